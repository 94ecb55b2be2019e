import { test } from "node:test";
import { assertNoReload, deviceRow, e2e, markNoReload, shot, withPage } from "../browser.mjs";

test("a device appears live in the devices table when the loadgen registers it", { timeout: 60_000 }, async (t) => {
  await withPage(t, {}, async (page) => {
    await page.goto("/devices");
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await page.getByTestId("feed-status").waitFor();
    // The table (or its empty state) has loaded before the device exists.
    await page.locator('[data-testid="device-row"], :text("No devices match")').first().waitFor();
    await markNoReload(page);

    const [dev] = await e2e.stack.loadgen("e2e-live");
    const row = deviceRow(page, dev.device_id);
    await row.waitFor({ timeout: 15_000 });
    await row.getByText(dev.alias).waitFor();
    await assertNoReload(page);
    await shot(page, "devices-live");
  });
});
