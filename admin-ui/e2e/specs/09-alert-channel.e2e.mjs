import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { test } from "node:test";
import { withPage } from "../browser.mjs";

/** A webhook receiver on loopback that keeps what it gets. */
async function receiver(t) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${server.address().port}/hook`, got };
}

test("an alert channel is added on the Alerts page and a test alert reaches it, signed", { timeout: 60_000 }, async (t) => {
  const hook = await receiver(t);
  const secret = "e2e-webhook-secret-0123456789";
  await withPage(t, {}, async (page) => {
    await page.goto("/alerts");
    await page.getByRole("tab", { name: "Channels" }).click();
    await page.getByRole("button", { name: "Add channel" }).click();
    const dialog = page.getByRole("dialog", { name: "Add alert channel" });
    await dialog.getByLabel("Name").fill("e2e-hook");
    await dialog.getByRole("combobox", { name: "Kind" }).click();
    await page.getByRole("option", { name: "Signed webhook" }).click();
    await dialog.getByLabel("Webhook URL").fill(hook.url);
    await dialog.getByLabel("Signing secret").fill(secret);
    await dialog.getByRole("button", { name: "Add channel" }).click();
    await dialog.waitFor({ state: "detached" });
    await page.getByRole("table", { name: "Alert channels" }).getByText("e2e-hook").waitFor();

    await page.getByRole("button", { name: "Send test alert" }).click();
    await page.getByTestId("test-alert-results").getByText(/e2e-hook.*delivered/).waitFor({ timeout: 20_000 });
  });
  assert.equal(hook.got.length, 1, "one test alert");
  const [{ headers, body }] = hook.got;
  const ts = headers["x-nexmdm-timestamp"];
  const want = crypto.createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");
  assert.equal(headers["x-nexmdm-signature"], `sha256=${want}`, "signed with the secret typed in the page");
  assert.match(body, /test/i);
});
