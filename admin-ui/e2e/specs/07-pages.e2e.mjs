import assert from "node:assert/strict";
import { test } from "node:test";
import { deviceRow, e2e, shot, withPage } from "../browser.mjs";

/** No error state, nothing left loading. */
async function settled(page, what) {
  await page.getByRole("heading", { level: 1 }).first().waitFor();
  await page.getByRole("status").filter({ hasText: /^Loading/ }).first().waitFor({ state: "detached" }).catch(() => {});
  const errors = (await page.locator('[role="alert"]').allTextContents()).filter((e) => /error|failed|could not/i.test(e));
  assert.deepEqual(errors, [], `${what} shows no error`);
}

// A fleet with 8 hours of history, then every page, photographed (the
// README's screenshots come from here).
test("a fleet: every page renders with data", { timeout: 90_000 }, async (t) => {
  const fleet = await e2e.stack.loadgen("fleet", 24, { history: 96 });
  await e2e.stack.uploadAgentAPK({ versionCode: 200 });
  await withPage(t, {}, async (page) => {
    await page.goto("/");
    await page.getByTestId("stat-total").filter({ hasText: /^\d+$/ }).waitFor();
    assert.ok(Number(await page.getByTestId("stat-total").textContent()) >= fleet.length);
    await settled(page, "the overview");
    await shot(page, "overview");

    await page.goto("/devices?q=fleet");
    await deviceRow(page, fleet[0].device_id).waitFor();
    await settled(page, "the devices page");
    await shot(page, "devices");

    await page.goto(`/devices/${fleet[0].device_id}`);
    await page.getByRole("heading", { name: fleet[0].alias }).first().waitFor();
    await page.locator(".recharts-surface").first().waitFor();
    await settled(page, "the device page");
    await shot(page, "device-detail");

    // An OTA release made and promoted through the page, against the real server.
    await page.goto("/releases");
    await page.getByRole("button", { name: "New release" }).click();
    const create = page.getByRole("dialog", { name: "New release" });
    await create.getByRole("combobox", { name: "Build" }).click();
    await page.getByRole("option", { name: /code 200/ }).click();
    await create.getByRole("button", { name: "Create draft" }).click();
    await create.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Promote" }).first().click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Promote" }).click();
    await page.getByRole("button", { name: "Pause" }).first().waitFor();
    await settled(page, "the releases page");
    await shot(page, "releases");

    for (const p of [
      { path: "/alerts", name: "alerts" },
      { path: "/apk", name: "apk-builds" },
      { path: "/settings", name: "settings" },
    ]) {
      await page.goto(p.path);
      await settled(page, p.path);
      await shot(page, p.name);
    }
  });
});

test("the dark theme at tablet width", { timeout: 60_000 }, async (t) => {
  await withPage(t, { viewport: { width: 820, height: 1180 }, colorScheme: "dark" }, async (page) => {
    await page.goto("/devices?q=fleet");
    await page.getByTestId("device-row").first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains("dark")), true, "dark theme");
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, "no sideways scroll");
    await settled(page, "the devices page at tablet width");
    await shot(page, "devices-dark-tablet");
    await page.goto("/");
    await settled(page, "the overview at tablet width");
    await shot(page, "overview-dark-tablet");
  });
});
