import { z } from "zod";
import { api, ApiError, buildUrl } from "@/lib/api";
import { sessionStore } from "@/lib/session";
import { jsonResponse, mockFetch, signIn } from "@/test/utils";

const session = (access: string) => ({
  access_token: access,
  token_type: "Bearer",
  expires_in: 900,
  refresh_token: `nxr_${access}`,
  user: { id: "00000000-0000-4000-8000-000000000001", username: "alice", role: "admin" },
});

describe("api", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("/admin/devices", { q: "a b", status: undefined, limit: 50, service_down: "" })).toBe("/admin/devices?q=a+b&limit=50");
  });

  it("sends the bearer token and parses the answer", async () => {
    const fetch = mockFetch({ "GET /x": () => ({ n: 1 }) });
    signIn();
    await expect(api("/x", z.object({ n: z.number() }))).resolves.toEqual({ n: 1 });
    expect(new Headers(fetch.mock.calls[0]![1]!.headers).get("Authorization")).toBe("Bearer test-access");
  });

  it("turns the server's error body into an ApiError", async () => {
    mockFetch({ "POST /x": () => jsonResponse({ error: "invalid_field", message: "battery_pct must be…", field: "battery_pct" }, 400) });
    signIn();
    const err = await api("/x", undefined, { method: "POST", body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: "invalid_field", field: "battery_pct", message: "battery_pct must be…" });
  });

  it("on 401 refreshes once with the stored refresh token and retries", async () => {
    let calls = 0;
    const fetch = mockFetch({
      "GET /x": (_u, init) =>
        new Headers(init.headers).get("Authorization") === "Bearer fresh"
          ? jsonResponse({ ok: true })
          : jsonResponse({ error: "unauthorized", message: "expired" }, 401),
      "POST /admin/auth/refresh": (_u, init) => {
        calls += 1;
        expect(JSON.parse(String(init.body))).toEqual({ refresh_token: "nxr_test" });
        return session("fresh");
      },
    });
    signIn();
    await expect(api("/x")).resolves.toEqual({ ok: true });
    expect(calls).toBe(1);
    expect(sessionStore.get()?.accessToken).toBe("fresh");
    expect(localStorage.getItem("nexmdm.refresh_token")).toBe("nxr_fresh");
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it("ends the session when the refresh is refused", async () => {
    mockFetch({
      "GET /x": () => jsonResponse({ error: "unauthorized", message: "expired" }, 401),
      "POST /admin/auth/refresh": () => jsonResponse({ error: "refresh_reused", message: "revoked" }, 401),
    });
    signIn();
    await expect(api("/x")).rejects.toMatchObject({ code: "session_expired" });
    expect(sessionStore.get()).toBeNull();
    expect(localStorage.getItem("nexmdm.refresh_token")).toBeNull();
  });

  it("shares one refresh between concurrent 401s", async () => {
    let refreshes = 0;
    mockFetch({
      "GET /x": (_u, init) =>
        new Headers(init.headers).get("Authorization") === "Bearer fresh"
          ? jsonResponse({ ok: true })
          : jsonResponse({ error: "unauthorized", message: "expired" }, 401),
      "POST /admin/auth/refresh": async () => {
        refreshes += 1;
        await new Promise((r) => setTimeout(r, 10));
        return session("fresh");
      },
    });
    signIn();
    await Promise.all([api("/x"), api("/x"), api("/x")]);
    expect(refreshes).toBe(1);
  });
});
