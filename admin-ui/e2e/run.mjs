// The dashboard's end-to-end tests: `npm run e2e [-- name...]` (make e2e and
// make test run it through scripts/e2e.sh). One real server, one headless
// Chromium, the specs in e2e/specs/ in order, with Node's test runner.
// Needs DATABASE_URL, REDIS_URL and bin/ (see stack.mjs). E2E_KEEP=1 keeps
// the temp folder with the server and agent logs.
import fs from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { SCREENSHOTS, e2e, launchBrowser } from "./browser.mjs";
import { startStack } from "./stack.mjs";

const started = Date.now();
const log = (m) => process.stderr.write(`e2e: ${m}\n`);
const only = process.argv.slice(2);

fs.mkdirSync(SCREENSHOTS, { recursive: true });
for (const f of fs.readdirSync(SCREENSHOTS)) if (f.startsWith("FAILED-")) fs.rmSync(path.join(SCREENSHOTS, f));

before(async () => {
  e2e.stack = await startStack({ log });
  e2e.browser = await launchBrowser();
  log(`chromium ${e2e.browser.version()} up after ${Date.now() - started} ms`);
});

after(async () => {
  await e2e.browser?.close().catch(() => {});
  await e2e.stack?.stop();
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in e2e/screenshots/`);
});

// Children die with us, whatever ends the run.
process.on("exit", () => e2e.stack?.killAll());
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    await e2e.browser?.close().catch(() => {});
    await e2e.stack?.stop().catch(() => {});
    process.exit(130);
  });
}

const dir = path.join(import.meta.dirname, "specs");
const specs = fs.readdirSync(dir).filter((f) => f.endsWith(".e2e.mjs")).sort();
const chosen = only.length ? specs.filter((f) => only.some((o) => f.includes(o))) : specs;
if (chosen.length === 0) throw new Error(`no spec matches ${only.join(" ")}; specs: ${specs.join(", ")}`);
for (const f of chosen) await import(path.join(dir, f));
