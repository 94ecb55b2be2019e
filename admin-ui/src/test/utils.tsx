import { render, type RenderResult } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { QueryClient } from "@tanstack/react-query";
import { vi } from "vitest";
import { Providers } from "@/Providers";
import { LiveFeed, type FeedEvent } from "@/lib/feed";
import type { Role } from "@/lib/permissions";
import { sessionStore } from "@/lib/session";

/** Signs a fake user in (no network). */
export function signIn(role: Role = "admin", username = "alice") {
  sessionStore.set({
    access_token: "test-access",
    token_type: "Bearer",
    expires_in: 900,
    refresh_token: "nxr_test",
    user: { id: "00000000-0000-4000-8000-000000000001", username, role },
  });
}

/** A feed that never connects; tests push events with emit(). */
export function testFeed() {
  const feed = new LiveFeed({ getToken: () => null, refresh: async () => false });
  const emit = (type: string, data: unknown) => {
    const ev: FeedEvent = { type, at: new Date().toISOString(), data };
    feed.dispatch(ev);
  };
  return { feed, emit };
}

export function testQueryClient() {
  return new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity }, mutations: { retry: false } } });
}

type Responder = (url: URL, init: RequestInit) => unknown | Response | Promise<unknown | Response>;

/**
 * Mocks fetch: routes is "METHOD /path" → responder (JSON body or a Response).
 * Unmatched requests answer 404. Returns the mock for call assertions.
 */
export function mockFetch(routes: Record<string, Responder>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://localhost");
    const key = `${(init.method ?? "GET").toUpperCase()} ${url.pathname}`;
    const responder = routes[key];
    if (!responder) {
      return new Response(JSON.stringify({ error: "not_found", message: `no mock for ${key}` }), { status: 404 });
    }
    const out = await responder(url, init);
    if (out instanceof Response) return out;
    return new Response(JSON.stringify(out), { status: 200, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fn);
  return fn;
}

export function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Renders `ui` at `path` (matched by `route`) inside every provider. */
export function renderPage(
  ui: React.ReactElement,
  { path = "/", route = "*", feed = testFeed().feed, queryClient = testQueryClient() } = {},
): RenderResult & { queryClient: QueryClient } {
  const result = render(
    <MemoryRouter initialEntries={[path]}>
      <Providers queryClient={queryClient} feed={feed}>
        <Routes>
          <Route path={route} element={ui} />
          <Route path="/login" element={<div>login page</div>} />
        </Routes>
      </Providers>
    </MemoryRouter>,
  );
  return Object.assign(result, { queryClient });
}
