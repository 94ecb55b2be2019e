import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, mockFetch, renderPage, signIn } from "@/test/utils";
import SettingsPage from "./index";

const key = {
  id: "11111111-1111-4111-8111-111111111111",
  name: "ci",
  prefix: "abcd1234",
  scopes: ["apk:write"],
  created_at: "2025-01-01T00:00:00Z",
  created_by: "user:alice",
  expires_at: null,
  revoked_at: null,
  last_used_at: null,
};
const users = [
  { id: "00000000-0000-4000-8000-000000000001", username: "alice", role: "admin", created_at: "2025-01-01T00:00:00Z", created_by: "admin-key" },
  { id: "00000000-0000-4000-8000-000000000002", username: "bob", role: "viewer", created_at: "2025-01-02T00:00:00Z", created_by: "user:alice" },
];

function entry(id: number, action = "device.delete") {
  return {
    id,
    at: "2025-03-01T12:00:00Z",
    actor: "user:alice",
    action,
    target: "dev-" + id,
    source_ip: "10.0.0.1",
    result: "ok",
    details: { purge: true },
  };
}

describe("Settings page", () => {
  it("tells a non-admin the page is not for them and asks nothing", async () => {
    signIn("operator");
    const fetch = mockFetch({});
    renderPage(<SettingsPage />);
    expect(await screen.findByText("Settings are for admins")).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("lists users, changes a role and does not offer to delete yourself", async () => {
    signIn("admin", "alice");
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "PATCH /admin/users/00000000-0000-4000-8000-000000000002": () => ({ id: users[1]!.id, result: "ok" }),
    });
    renderPage(<SettingsPage />);
    const table = await screen.findByRole("table", { name: "Users" });
    expect(within(table).getByText("bob")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Delete user alice" })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Delete user bob" })).toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(screen.getByRole("combobox", { name: "Role of bob" }));
    await user.click(await screen.findByRole("option", { name: "operator" }));
    await waitFor(() => expect(fetch.mock.calls.some(([, i]) => i?.method === "PATCH")).toBe(true));
    const patch = fetch.mock.calls.find(([, i]) => i?.method === "PATCH")!;
    expect(JSON.parse(String(patch[1]!.body))).toEqual({ role: "operator" });
  });

  it("sets another user's password, checking its length first", async () => {
    signIn("admin", "alice");
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "PATCH /admin/users/00000000-0000-4000-8000-000000000002": () => ({ id: users[1]!.id, result: "ok" }),
    });
    renderPage(<SettingsPage />);
    await screen.findByRole("table", { name: "Users" });
    expect(screen.queryByRole("button", { name: "Set the password of alice" })).not.toBeInTheDocument();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Set the password of bob" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("New password"), "short");
    await user.click(within(dialog).getByRole("button", { name: "Set password" }));
    expect(await within(dialog).findByText("12 to 72 characters.")).toBeInTheDocument();
    expect(fetch.mock.calls.some(([, i]) => i?.method === "PATCH")).toBe(false);

    await user.type(within(dialog).getByLabelText("New password"), "-and-long-enough");
    await user.click(within(dialog).getByRole("button", { name: "Set password" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const patch = fetch.mock.calls.find(([, i]) => i?.method === "PATCH")!;
    expect(JSON.parse(String(patch[1]!.body))).toEqual({ password: "short-and-long-enough" });
  });

  it("adds a user after checking the form", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "POST /admin/users": () =>
        jsonResponse({ id: "x", username: "carol", role: "viewer", created_at: "2025-01-01T00:00:00Z", created_by: "user:alice" }, 201),
    });
    renderPage(<SettingsPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Add user" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("Username"), "carol");
    await user.type(within(dialog).getByLabelText("Password"), "short");
    await user.click(within(dialog).getByRole("button", { name: "Add user" }));
    expect(await within(dialog).findByText("At least 12 characters")).toBeInTheDocument();
    expect(fetch.mock.calls.some(([, i]) => i?.method === "POST")).toBe(false);

    await user.type(within(dialog).getByLabelText("Password"), "-long-enough-now");
    await user.click(within(dialog).getByRole("button", { name: "Add user" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const post = fetch.mock.calls.find(([, i]) => i?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ username: "carol", password: "short-long-enough-now", role: "viewer" });
  });

  it("shows a new API key once, with a copy button, and never again", async () => {
    signIn("admin");
    let list = [key];
    const created = { ...key, id: "22222222-2222-4222-8222-222222222222", name: "enroll-station", prefix: "zzzz9999", scopes: ["enroll"] };
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "GET /admin/keys": () => ({ api_keys: list }),
      "POST /admin/keys": () => {
        list = [created, key];
        return jsonResponse({ api_key: created, key: "nxk_zzzz9999_SECRETSECRET" }, 201);
      },
    });
    renderPage(<SettingsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "API keys" }));
    await screen.findByRole("table", { name: "API keys" });
    await user.click(screen.getByRole("button", { name: "Create API key" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("Name"), "enroll-station");
    await user.click(within(dialog).getByRole("checkbox", { name: /enroll —/ }));
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));

    expect(await within(dialog).findByDisplayValue("nxk_zzzz9999_SECRETSECRET")).toBeInTheDocument();
    const post = fetch.mock.calls.find(([, i]) => i?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ name: "enroll-station", scopes: ["enroll"], expires_in_hours: 0 });

    await user.click(within(dialog).getByRole("button", { name: "Copy API key" }));
    expect(await navigator.clipboard.readText()).toBe("nxk_zzzz9999_SECRETSECRET");

    await user.click(within(dialog).getByRole("button", { name: "I have copied it" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    // The list shows the prefix only; the secret is gone from the page.
    expect(await screen.findByText("enroll-station")).toBeInTheDocument();
    expect(screen.getByText("nxk_zzzz9999_…")).toBeInTheDocument();
    expect(document.body.textContent).not.toContain("SECRETSECRET");
    expect(screen.queryByDisplayValue(/SECRETSECRET/)).not.toBeInTheDocument();

    // Opening the dialog again starts from an empty form.
    await user.click(screen.getByRole("button", { name: "Create API key" }));
    expect(await screen.findByRole("dialog")).not.toHaveTextContent("SECRETSECRET");
  });

  it("revokes a key after confirmation", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "GET /admin/keys": () => ({ api_keys: [key] }),
      [`DELETE /admin/keys/${key.id}`]: () => ({ id: key.id, result: "ok" }),
    });
    renderPage(<SettingsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "API keys" }));
    await user.click(await screen.findByRole("button", { name: "Revoke ci" }));
    const dialog = await screen.findByRole("alertdialog");
    expect(fetch.mock.calls.some(([, i]) => i?.method === "DELETE")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Revoke key" }));
    await waitFor(() => expect(fetch.mock.calls.some(([, i]) => i?.method === "DELETE")).toBe(true));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument());
  });

  it("filters the audit log exactly and pages with the cursor", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/users": () => ({ users }),
      "GET /admin/audit": (url) => {
        if (url.searchParams.get("cursor") === "c2") return { entries: [entry(1)], next_cursor: null };
        if (url.searchParams.get("action") === "auth.login") return { entries: [entry(9, "auth.login")], next_cursor: null };
        return { entries: [entry(3), entry(2)], next_cursor: "c2" };
      },
    });
    renderPage(<SettingsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "Audit log" }));
    const table = await screen.findByRole("table", { name: "Audit log" });
    expect(within(table).getAllByText("device.delete")).toHaveLength(2);

    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(table).getAllByText("device.delete")).toHaveLength(3));
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();

    await user.click(within(table).getByRole("button", { name: "Details of entry 3" }));
    expect(within(table).getByText(/"purge": true/)).toBeInTheDocument();

    await user.type(screen.getByLabelText("Action"), "auth.login");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    expect(await screen.findByText("auth.login")).toBeInTheDocument();
    const last = new URL(String(fetch.mock.calls.at(-1)![0]), "http://x");
    expect(last.searchParams.get("action")).toBe("auth.login");
    expect(last.searchParams.get("limit")).toBe("100");
  });
});
