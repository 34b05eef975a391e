import type {
  Data,
  DataType as DataTypeT,
  Field,
  FixedSizeList,
  Float,
  Int,
  Schema,
  Table,
  Utf8,
} from "apache-arrow";
import { arrow } from "./arrow.js";

const { DataType, makeData, Precision, RecordBatch, Struct } = arrow;

const encoder = new TextEncoder();

/**
 * Builds an Arrow table of `rows` for `schema` column by column, without Arrow's per-value builders (which
 * cost more than the rest of a sync). Supports the column types our tables use: Utf8, Int32, Float64 and
 * FixedSizeList<Float32> (vectors given as `Float32Array`). Throws on a vector of the wrong width.
 */
export function rowsToArrow(schema: Schema, rows: readonly Record<string, unknown>[]): Table {
  const children = schema.fields.map((f) => column(f, rows));
  const struct = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new arrow.Table(schema, [new RecordBatch(schema, struct)]);
}

function column(field: Field, rows: readonly Record<string, unknown>[]): Data<DataTypeT> {
  // Type ids, not instanceof: schemas read back from LanceDB may come from another Arrow module instance.
  const { type, name } = field;
  const n = rows.length;
  if (DataType.isUtf8(type)) {
    let cap = 0;
    const values = rows.map((r) => {
      const s = String(r[name] ?? "");
      cap += s.length * 3;
      return s;
    });
    const bytes = new Uint8Array(cap);
    const offsets = new Int32Array(n + 1);
    let at = 0;
    for (let i = 0; i < n; i++) {
      at += encoder.encodeInto(values[i] as string, bytes.subarray(at)).written;
      offsets[i + 1] = at;
    }
    return makeData({
      type: type as Utf8,
      length: n,
      nullCount: 0,
      valueOffsets: offsets,
      data: bytes.subarray(0, at),
    });
  }
  if (DataType.isInt(type) && (type as Int).bitWidth === 32 && (type as Int).isSigned) {
    return makeData({
      type: type as Int,
      length: n,
      nullCount: 0,
      data: Int32Array.from(rows, (r) => Number(r[name])),
    });
  }
  if (DataType.isFloat(type) && (type as Float).precision === Precision.DOUBLE) {
    return makeData({
      type: type as Float,
      length: n,
      nullCount: 0,
      data: Float64Array.from(rows, (r) => Number(r[name])),
    });
  }
  const item = type.children?.[0]?.type;
  if (
    DataType.isFixedSizeList(type) &&
    item &&
    DataType.isFloat(item) &&
    item.precision === Precision.SINGLE
  ) {
    const dims = (type as FixedSizeList).listSize;
    const flat = new Float32Array(n * dims);
    for (let i = 0; i < n; i++) {
      const v = rows[i]?.[name] as Float32Array | undefined;
      if (!v || v.length !== dims) {
        throw new RangeError(`column ${name}: row ${i} has ${v?.length ?? 0} values, expected ${dims}`);
      }
      flat.set(v, i * dims);
    }
    const child = makeData({ type: item, length: n * dims, nullCount: 0, data: flat });
    return makeData({ type: type as FixedSizeList, length: n, nullCount: 0, child });
  }
  throw new TypeError(`column ${name}: unsupported Arrow type ${String(type)}`);
}
