import assert from "node:assert/strict";
import { test } from "node:test";
import { e2e, shot, withPage } from "../browser.mjs";

test("generating an enrollment script on the Enrollment page", { timeout: 60_000 }, async (t) => {
  await e2e.stack.uploadAgentAPK();
  await withPage(t, {}, async (page) => {
    await page.goto("/");
    await page.getByRole("link", { name: "Enrollment" }).click();
    await page.getByRole("heading", { name: "ADB setup" }).waitFor();
    await page.getByLabel("Alias").fill("e2e-scanner-07");
    await page.getByRole("button", { name: "Generate scripts" }).click();

    const scripts = page.getByRole("region", { name: "Enrollment scripts" });
    await scripts.waitFor();
    const oneLiner = await page.getByTestId("script-sh-oneliner").textContent();
    assert.ok(oneLiner.includes(e2e.stack.baseURL) || oneLiner.includes("127.0.0.1"), `the one-liner reaches the server: ${oneLiner}`);
    for (const id of ["script-sh", "script-cmd", "script-cmd-oneliner"]) {
      assert.ok((await page.getByTestId(id).textContent()).trim().length > 20, `${id} is filled in`);
    }
    assert.match(await page.getByTestId("script-sh").textContent(), /e2e-scanner-07|ZTJlLXNjYW5uZXItMDc/);
    await page.getByRole("button", { name: "Download nexmdm-enroll-e2e-scanner-07.sh" }).waitFor();
    await page.getByRole("heading", { name: "Exit codes" }).waitFor();
    assert.ok((await scripts.getByRole("row").count()) > 2, "the exit-code table has rows");
    await shot(page, "enrollment");
  });
});
