import { test } from "node:test";
import { e2e, shot, withPage } from "../browser.mjs";

test("a command sent from the device page succeeds on the real agent", { timeout: 90_000 }, async (t) => {
  const agent = await e2e.stack.startAgent("e2e-agent-1", "E2E agent");
  try {
    await withPage(t, {}, async (page) => {
      await page.goto(`/devices/${agent.deviceId}`);
      await page.getByRole("heading", { name: "E2E agent" }).first().waitFor();
      await page.getByTestId("device-status").first().and(page.locator('[data-status="online"]')).waitFor({ timeout: 20_000 });

      const form = page.getByRole("form", { name: "Command" });
      await form.getByRole("button", { name: "Send command" }).click(); // ping, the default
      const item = page.getByTestId("command-item").first();
      await item.getByText("ping").waitFor();
      await item.getByTestId("command-status").and(page.locator('[data-status="succeeded"]')).waitFor({ timeout: 30_000 });
      await shot(page, "device-commands");
    });
  } finally {
    await agent.stop();
  }
});
