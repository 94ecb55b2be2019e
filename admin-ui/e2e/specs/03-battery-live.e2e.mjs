import assert from "node:assert/strict";
import { test } from "node:test";
import { assertNoReload, deviceRow, e2e, markNoReload, withPage } from "../browser.mjs";

test("a heartbeat changes the device's battery on screen without a reload", { timeout: 60_000 }, async (t) => {
  const [dev] = await e2e.stack.loadgen("e2e-battery");
  await e2e.stack.heartbeat(dev.token, { battery_pct: 64, charging: false });
  await withPage(t, {}, async (page) => {
    await page.goto(`/devices?q=${encodeURIComponent(dev.serial)}`);
    const battery = deviceRow(page, dev.device_id).getByTestId("device-battery");
    await battery.and(page.locator('[data-battery="64"]')).waitFor();
    await markNoReload(page);

    await e2e.stack.heartbeat(dev.token, { battery_pct: 7, charging: false });
    await battery.and(page.locator('[data-battery="7"]')).waitFor({ timeout: 15_000 });
    assert.match(await battery.textContent(), /7%/);

    await e2e.stack.heartbeat(dev.token, { battery_pct: 93, charging: true });
    await battery.and(page.locator('[data-battery="93"]')).waitFor({ timeout: 15_000 });
    assert.match(await battery.getAttribute("aria-label"), /93%, charging/);
    await assertNoReload(page);
  });
});
