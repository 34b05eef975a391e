import { ENV_VARS } from "./schema.js";

/** A commented `.env` template listing every variable with its default; written by `setup --generate-config`. */
export function renderEnvTemplate(): string {
  const lines = [
    "# lancedb-sync configuration. Every variable is optional; the value shown is the default.",
    "# Environment variables win over this file.",
    "",
  ];
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    lines.push(`# ${spec.doc}`);
    lines.push(`${spec.default === "" ? "# " : ""}${name}=${spec.default}`, "");
  }
  return lines.join("\n");
}
