import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { apkFixture, sha256Hex } from "../apk.mjs";
import { e2e, withPage } from "../browser.mjs";

test("an APK build is uploaded, downloaded and deleted on the APK builds page", { timeout: 60_000 }, async (t) => {
  const apk = apkFixture("com.example.kiosk");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexmdm-apk-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "kiosk.apk");
  fs.writeFileSync(file, apk);
  await withPage(t, {}, async (page) => {
    await page.goto("/apk");
    await page.getByRole("button", { name: "Upload build" }).click();
    const dialog = page.getByRole("dialog", { name: "Upload a build" });
    await dialog.getByLabel("APK file").setInputFiles(file);
    await dialog.getByLabel("Package").fill("com.example.kiosk");
    await dialog.getByLabel("Version code").fill("31");
    await dialog.getByLabel("Version name").fill("3.1.0");
    await dialog.getByRole("button", { name: "Upload" }).click();
    await dialog.waitFor({ state: "detached", timeout: 20_000 });

    const builds = await e2e.stack.api("GET", "/admin/apk/builds?package=com.example.kiosk");
    assert.equal(builds.status, 200);
    const [build] = builds.body.items;
    assert.ok(build, `the build is registered: ${builds.text}`);
    assert.equal(build.sha256, sha256Hex(apk), "the browser hashed the file the server stored");
    assert.equal(build.uploaded, true, "and its file arrived");
    assert.equal(build.size_bytes, apk.length);

    const table = page.getByRole("table", { name: "APK builds" });
    const row = table.getByRole("row").filter({ hasText: "com.example.kiosk" });
    await row.waitFor();
    const download = page.waitForEvent("download");
    await row.getByRole("button", { name: /^Download / }).click();
    const saved = await (await download).path();
    assert.equal(sha256Hex(fs.readFileSync(saved)), sha256Hex(apk), "the download is the file, byte for byte");

    await row.getByRole("button", { name: /^Delete / }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: /Delete/ }).click();
    await row.waitFor({ state: "detached" });
  });
});
