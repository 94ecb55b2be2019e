import assert from "node:assert/strict";
import { test } from "node:test";
import { deviceRow, e2e, shot, withPage } from "../browser.mjs";

test("bulk delete through the type-to-confirm modal", { timeout: 90_000 }, async (t) => {
  const devs = await e2e.stack.loadgen("e2e-bulk", 3);
  await withPage(t, {}, async (page) => {
    await page.goto("/devices?q=e2e-bulk");
    for (const d of devs) await deviceRow(page, d.device_id).waitFor();
    assert.equal(await page.getByTestId("device-row").count(), 3);

    await page.getByRole("checkbox", { name: "Select all loaded devices" }).click();
    const bar = page.getByRole("region", { name: "Selection" });
    await bar.getByTestId("selection-count").getByText("3").waitFor();
    await bar.getByRole("button", { name: "Delete" }).click();

    const dialog = page.getByRole("dialog", { name: "Delete devices" });
    await dialog.getByTestId("bulk-delete-count").getByText("3").waitFor();
    const confirm = (await dialog.locator("label code").textContent()).trim();
    const submit = dialog.getByRole("button", { name: /^Delete 3/ });
    assert.equal(await submit.isDisabled(), true, "disabled until the confirm text is typed");
    await dialog.getByRole("textbox").fill(`${confirm}x`);
    assert.equal(await submit.isDisabled(), true, "a wrong confirm text does not do");
    await dialog.getByRole("textbox").fill(confirm);
    await dialog.getByText("Purge history").click();
    await shot(page, "bulk-delete-modal");
    await submit.click();

    await dialog.getByTestId("job-progress").and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
    await dialog.getByText("3 / 3 deleted").waitFor();
    await shot(page, "bulk-delete-done");
    await dialog.getByRole("button", { name: "Close" }).first().click();
    await page.getByText("No devices match").waitFor();

    for (const d of devs) {
      const r = await e2e.stack.api("GET", `/admin/devices/${d.device_id}`);
      assert.equal(r.status, 404, `device ${d.serial} is gone`);
    }
  });
});
