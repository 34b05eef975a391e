/**
 * Writes the demo corpus used by `lancedb-sync demo`: the staff handbook of the fictional company
 * Harbourlight Software, in every supported format. Run from the repository root (output: `samples/`, or the
 * directory given as the first argument). The compiled script must sit below the repository so that Node finds
 * the dev dependencies `pdfkit` and `docx`:
 *
 *   npx tsc --outDir node_modules/.cache/make-samples --rootDir . --module NodeNext --moduleResolution NodeNext \
 *     --target ES2023 --skipLibCheck scripts/make-samples.ts test/fixtures/*.ts \
 *     && node node_modules/.cache/make-samples/scripts/make-samples.js
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeDocx } from "../test/fixtures/make-docx.js";
import { makePdf } from "../test/fixtures/make-pdf.js";

const REMOTE_WORK = `# Remote Work Policy

Harbourlight Software is a remote-friendly company. Most of our people work from home at least part of the
week, and several teams are fully distributed across time zones. This policy explains what we expect from
everyone who works remotely and what the company provides in return.

## Who can work remotely

Every employee may work remotely up to three days a week once they have completed their first month. Fully
remote arrangements are agreed with your manager and recorded in the HR system. Roles that need physical
access to hardware, such as the device lab, may have fixed office days; your manager will tell you before you
start.

## Core hours and availability

We ask everyone to be reachable during the core hours of 10:00 to 15:00 in their team's home time zone. Outside
core hours, plan your own day. Keep your calendar up to date and set your chat status when you step away for more
than an hour. If you are ill, tell your manager before 10:00 and do not try to work through it.

## Your home office

The company pays a one-off home office allowance of 600 EUR for a desk, a chair, a monitor or similar equipment.
Claim it like any other expense, with receipts, within your first six months. Internet costs are covered by a
monthly stipend of 30 EUR that is paid with your salary; you do not need to claim it.

## Working from another country

Working abroad for more than four weeks in a calendar year has tax and insurance consequences. Ask People
Operations at least one month before you travel. Short trips of up to two weeks need only your manager's
approval.

## Security while working remotely

Use only your company laptop for company work, keep it locked when you leave it, and never work on confidential
material in public places where others can read your screen. Public Wi-Fi is acceptable only with the company VPN
switched on. The Security Guidelines describe the rules in detail.

## Meeting in person

Each team meets in person at least twice a year. Travel for these meetings is booked through the travel portal
and reimbursed under the Expense Policy.
`;

const SECURITY = `# Security Guidelines

These guidelines apply to every employee, contractor and intern at Harbourlight Software. They exist to protect
our customers' data and our own. If anything here is unclear, ask in the #security channel; nobody will mind.

## Passwords and password rotation

Use the company password manager for every work account and let it generate passwords of at least 16
characters. Never reuse a password between accounts, and never share one by chat or email; use a shared vault
instead.

We do not force periodic password rotation for personal accounts, because regular forced changes lead to weaker
passwords. Change a password immediately, however, if you suspect it has leaked, if you typed it on a device you
do not trust, or if the password manager reports it in a breach. Service accounts and API keys are different:
they are rotated automatically every 90 days, and the owning team must rotate them by hand within 24 hours when a
person who knew them leaves the company.

## Multi-factor authentication

Multi-factor authentication is mandatory for email, source control, the cloud console and the VPN. Use the
authenticator app or a hardware security key; text messages are not accepted as a second factor. If you lose
your key or phone, report it to IT the same day so the old factor can be revoked.

## Laptops and devices

Company laptops have full-disk encryption and automatic updates turned on; do not disable either. Lock your screen
whenever you leave your desk. Personal devices may be used for chat and email only through the managed apps, and
never to store customer data.

## Phishing and suspicious messages

Be suspicious of any message that asks you to log in, pay an invoice or open an attachment urgently. Check the
sender and hover over links before clicking. Report suspected phishing with the "Report" button in your mail
client; reporting a false alarm is always better than ignoring a real attack.

## Handling customer data

Customer data stays in production systems. Do not copy it to your laptop, to spreadsheets or to test
environments. If you need realistic data for testing, use the anonymised snapshots provided by the data team.

## Reporting an incident

If you think something has gone wrong, such as a lost laptop, a leaked secret or a strange login alert, report it
at once to security@harbourlight.example or in the #security-incidents channel. Speed matters more than
certainty, and nobody is blamed for reporting in good faith.
`;

const ONBOARDING = `Onboarding Checklist for New Employees
=======================================

Welcome to Harbourlight Software! This checklist covers your first two weeks. Tick items off as you go and
bring the list to your check-in with your manager at the end of week two.

Before your first day
---------------------
[ ] Sign and return your contract and the confidentiality agreement.
[ ] Send People Operations your bank details and tax information so your first salary is paid on time.
[ ] Tell us your laptop preference (macOS or Linux) and your delivery address; the laptop arrives before day one.

Day one
-------
[ ] Join the welcome call at 10:00 with People Operations.
[ ] Set up the password manager first, then create your work accounts from the invitation emails.
[ ] Turn on multi-factor authentication for email, source control and the VPN.
[ ] Read the Security Guidelines and the Remote Work Policy.
[ ] Introduce yourself in the #general channel with a sentence about what you will work on.

First week
----------
[ ] Meet your onboarding buddy. Your buddy is a colleague from another team who answers the questions you
    would rather not ask your manager.
[ ] Walk through the product with the Product Overview document and try the demo environment.
[ ] Set up your development environment by following the README of the main repository.
[ ] Ship a small change to production with help from your team. Shipping in the first week is a tradition.
[ ] Book your home office equipment and submit the receipts as described in the Expense Policy.

Second week
-----------
[ ] Join the support rotation as an observer for one afternoon to hear what customers ask about.
[ ] Agree your goals for the first three months with your manager.
[ ] Register for the next in-person team meeting and book travel through the travel portal.
[ ] Give feedback on this checklist: what was missing, what was confusing, what took too long.

Who to ask
----------
People Operations: contracts, salary, leave, working abroad.
IT: laptop, accounts, lost devices, access requests.
Finance: expenses, company cards, travel bookings.
Security: anything that looks suspicious, at any time.
`;

const RELEASE_NOTES = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tidepool Release Notes</title>
<style>body { font-family: sans-serif; max-width: 48em; margin: auto; }</style>
</head>
<body>
<h1>Tidepool Release Notes</h1>
<p>Tidepool is Harbourlight's document search platform. These notes list the changes customers will notice in
each release. Internal refactoring is not listed.</p>

<h2>Version 3.2 (March)</h2>
<ul>
<li><strong>Hybrid search.</strong> Results now combine keyword matching with semantic similarity, so a search for
"refund" also finds documents that only say "money back". Ranking can be tuned per workspace.</li>
<li><strong>Faster indexing.</strong> Incremental sync only re-reads documents whose content changed. Large
workspaces finish a nightly sync about four times faster.</li>
<li><strong>PDF and Word support.</strong> Text is extracted from PDF and DOCX files in addition to Markdown,
HTML and plain text. Encrypted files are reported instead of silently skipped.</li>
<li>Fixed: search results sometimes showed a deleted document until the next full sync.</li>
</ul>

<h2>Version 3.1 (January)</h2>
<ul>
<li><strong>Single sign-on.</strong> Workspaces can require login through the customer's identity provider.
Passwords for local accounts must now be at least 12 characters long.</li>
<li><strong>Audit log.</strong> Administrators can see who searched for what and who changed workspace settings,
and export the log as CSV.</li>
<li>Fixed: the export of search analytics used the server's time zone instead of the workspace's.</li>
</ul>

<h2>Version 3.0 (October)</h2>
<ul>
<li><strong>New search interface.</strong> Results show the matching passage with the search terms highlighted,
and a preview opens without leaving the page.</li>
<li><strong>Per-user collections.</strong> Each user can keep private collections next to the shared workspace.</li>
<li><strong>Deprecation.</strong> The version 1 API was removed. See the <a href="https://docs.example/api">API
migration guide</a> for the replacement endpoints.</li>
</ul>

<h2>Upgrading</h2>
<p>Hosted customers are upgraded automatically during the maintenance window announced one week in advance.
Self-hosted customers should back up the index, stop the service, install the new package and start it again;
the index is migrated on first start and the migration cannot be undone.</p>
</body>
</html>
`;

const IT_FAQ = `# IT Support FAQ

Answers to the questions the IT team hears most often. For anything not covered here, open a ticket in the
IT portal or ask in the #it-help channel during office hours.

## I forgot my password. How do I reset it?

Open the login page, choose "Forgot password" and follow the link sent to your recovery email. If you also lost
access to your second factor, IT must verify your identity on a video call before resetting it. Remember to
update the entry in your password manager afterwards.

## How often do I have to change my password?

You do not have to change personal passwords on a schedule. Change one only when you suspect it leaked. Shared
service credentials are rotated automatically; see the Security Guidelines for the details.

## My laptop is broken or lost. What now?

Report a lost or stolen laptop immediately so it can be locked and wiped remotely. For a broken laptop, open a
ticket; IT sends a replacement, usually within two working days, and you return the old one with the prepaid
label.

## How do I get access to a system I need for my work?

Request access in the IT portal and name the system and the reason. Your manager approves the request, and most
requests are completed the same day. Access to production systems also needs approval from the system's owner.

## Can I install my own software?

You may install software from the company app catalogue without asking. Anything else needs a short security
review; open a ticket with a link to the software and what you want to use it for.

## The VPN does not connect.

Check that your laptop's clock is correct and that you are not on a network that blocks VPN traffic, such as some
hotel networks. Restarting the VPN client solves most problems. If it still fails, open a ticket with a
screenshot of the error.
`;

const EXPENSE_TITLE = "Expense and Travel Policy";
const EXPENSES = [
  EXPENSE_TITLE,
  "This policy explains which business expenses Harbourlight Software pays for and how to claim them. It " +
    "applies to all employees. Spend company money as carefully as you would spend your own.",
  "How to claim travel expenses",
  "Claim travel expenses in the expense app within 30 days of the end of your trip. Create one claim per " +
    "trip, add every cost as a separate line, and attach a photo or PDF of each receipt. Your manager approves " +
    "the claim, Finance checks it, and the money is paid with the next salary run. Claims older than 90 days " +
    "cannot be reimbursed.",
  "Booking travel",
  "Book flights, trains and hotels through the travel portal so that the company pays directly and you do not " +
    "have to claim them. Take the train for journeys under five hours. Economy class is the rule for flights; " +
    "business class is allowed only for flights longer than eight hours. Hotels should be mid-range and close to " +
    "where you need to be.",
  "Meals and daily allowance",
  "On business trips the company pays a daily allowance for meals of 45 EUR within the country and 60 EUR " +
    "abroad. You do not need receipts for the allowance. Meals with customers are paid in full with a receipt " +
    "and the names of the people present. Alcohol is reimbursed only at customer meals, in moderation.",
  "Local transport",
  "Public transport, taxis and ride-sharing at the destination are reimbursed with receipts. If you use your " +
    "own car, claim 0.30 EUR per kilometre and state the start and end of each journey.",
  "Equipment and home office",
  "The one-off home office allowance of 600 EUR and any equipment your manager approves are claimed in the same " +
    "expense app with receipts. Equipment bought by the company remains company property.",
  "What is not reimbursed",
  "Fines, lost luggage that is covered by the airline, personal entertainment, upgrades you chose yourself and " +
    "costs for family members travelling with you are not reimbursed.",
  "Company cards",
  "Employees who travel often may request a company card. Card payments still need a receipt in the expense " +
    "app within 30 days. Lost cards must be blocked immediately by calling the number on the back of the card " +
    "and reported to Finance.",
];

const PRODUCT_OVERVIEW = [
  "Tidepool Product Overview",
  "Tidepool is a search platform for company knowledge. It connects to the places where documents already " +
    "live, such as shared drives, wikis and object storage, keeps an index of their contents up to date, and " +
    "lets people find answers by asking questions in plain language rather than guessing the right keywords.",
  "Who uses Tidepool",
  "Our customers are mid-sized companies with a few hundred to a few thousand employees. Typical users are " +
    "support agents looking for the right answer to a customer question, engineers searching design documents " +
    "and runbooks, and new employees finding their way around policies and handbooks.",
  "How it works",
  "Connectors list the documents in each source and detect what changed since the last sync. Changed documents " +
    "are converted to text, split into passages and turned into vector embeddings. The passages are stored " +
    "together with their embeddings, so a question can be matched by meaning as well as by keywords. Deleted " +
    "documents are removed from the index on the next sync.",
  "Permissions",
  "Tidepool respects the permissions of the source. A user only sees results from documents they are allowed " +
    "to open, and private collections are visible only to their owner.",
  "Deployment",
  "Tidepool is available as a hosted service in data centres in the European Union and the United States, and " +
    "as a self-hosted package for customers who must keep all data on their own infrastructure.",
  "Pricing",
  "Pricing is per active user per month, with a free tier for up to ten users. Enterprise plans add single " +
    "sign-on, the audit log and a guaranteed response time for support requests.",
  "Roadmap",
  "Next on the roadmap are answers that quote several documents at once, connectors for ticketing systems, and " +
    "better handling of scanned documents.",
];

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? "samples");
  await mkdir(dir, { recursive: true });
  const files: [string, string | Buffer][] = [
    ["remote-work-policy.md", REMOTE_WORK],
    ["security-guidelines.md", SECURITY],
    ["it-support-faq.md", IT_FAQ],
    ["onboarding-checklist.txt", ONBOARDING],
    ["release-notes.html", RELEASE_NOTES],
    ["expense-policy.pdf", await makePdf(EXPENSES, { title: EXPENSE_TITLE })],
    ["product-overview.docx", await makeDocx(PRODUCT_OVERVIEW)],
  ];
  for (const [name, content] of files) {
    await writeFile(join(dir, name), content);
    console.log(`wrote ${join(dir, name)}`);
  }
}

await main();
