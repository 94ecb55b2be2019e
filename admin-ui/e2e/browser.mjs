// Debian's Chromium driven by playwright-core (no browser download), and the
// helpers the specs share.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ADMIN_USER } from "./stack.mjs";

export const SCREENSHOTS = path.join(import.meta.dirname, "screenshots");

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: run scripts/ensure-chromium.sh (make e2e does), or set CHROMIUM`);
  }
  // Playwright gives every launch a new, empty profile (--user-data-dir in a temp folder).
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** The shared run: set by run.mjs before any spec runs. */
export const e2e = { stack: null, browser: null };

/**
 * A fresh browser context and page for one test; on failure it saves a
 * screenshot and prints the page's console errors and the server log's tail.
 * login: log in as the e2e admin first; viewport and colorScheme as in
 * Playwright (the theme follows the colour scheme until the user picks one).
 */
export async function withPage(t, { login = true, viewport = { width: 1440, height: 900 }, colorScheme = "light" } = {}, fn) {
  const context = await e2e.browser.newContext({ baseURL: e2e.stack.baseURL, viewport, colorScheme });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  try {
    if (login) await logIn(page);
    await fn(page);
  } catch (e) {
    const name = `FAILED-${t.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}.png`;
    await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true }).catch(() => {});
    const msg = [`screenshot: e2e/screenshots/${name}`, `url: ${page.url()}`];
    if (problems.length) msg.push("browser:", ...problems.slice(-20));
    msg.push("server log (tail):", e2e.stack.logTail(30));
    t.diagnostic(msg.join("\n"));
    throw e;
  } finally {
    await context.close();
  }
}

export async function logIn(page, username = ADMIN_USER, password = e2e.stack.password) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("user-role").waitFor();
}

/** A screenshot of the whole page into e2e/screenshots/<name>.png. */
export async function shot(page, name) {
  await page.waitForLoadState("networkidle").catch(() => {});
  // Charts animate in; let them settle.
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Marks the document, to tell later that it was never reloaded. */
export async function markNoReload(page) {
  await page.evaluate(() => {
    window.__e2eNoReload = true;
  });
}

export async function assertNoReload(page) {
  const still = await page.evaluate(() => window.__e2eNoReload === true);
  if (!still) throw new Error("the page was reloaded");
}

/** The devices table's row of a device. */
export function deviceRow(page, deviceId) {
  return page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`);
}
