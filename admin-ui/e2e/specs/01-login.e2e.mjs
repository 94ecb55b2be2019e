import assert from "node:assert/strict";
import { test } from "node:test";
import { ADMIN_USER } from "../stack.mjs";
import { e2e, shot, withPage } from "../browser.mjs";

test("logging in: a wrong password is refused, the right one lands where it was going, as admin", { timeout: 60_000 }, async (t) => {
  await withPage(t, { login: false }, async (page) => {
    await page.goto("/devices");
    await page.waitForURL(/\/login/); // not signed in: sent to log in first
    await shot(page, "login");

    await page.getByLabel("Username").fill(ADMIN_USER);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
    assert.match(page.url(), /\/login/);
    await shot(page, "login-error");

    await page.getByLabel("Password").fill(e2e.stack.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("user-role").waitFor();
    assert.equal((await page.getByTestId("user-role").textContent()).trim(), "admin");
    await page.waitForURL((u) => u.pathname === "/devices"); // back where it was going
    await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
  });
});
