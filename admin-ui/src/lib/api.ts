import type { z } from "zod";
import { readRefreshToken, sessionResponseSchema, sessionStore } from "@/lib/session";

/** The server's error body: {"error": code, "message": text, "field"?: name} (ingress/errors.go). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  query?: Record<string, QueryValue>;
  /** JSON-encoded unless it is a Blob, FormData, ArrayBuffer or string. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send the bearer token and refresh on 401 (default true). */
  auth?: boolean;
}

/** Builds "/path?k=v", leaving out empty values. */
export function buildUrl(path: string, query?: Record<string, QueryValue>): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function encodeBody(body: unknown, headers: Headers): BodyInit | undefined {
  if (body === undefined) return undefined;
  if (body instanceof Blob || body instanceof FormData || body instanceof ArrayBuffer || typeof body === "string") {
    return body;
  }
  headers.set("Content-Type", "application/json");
  return JSON.stringify(body);
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const headers = new Headers(opts.headers);
  headers.set("Accept", "application/json");
  const token = sessionStore.get()?.accessToken;
  if (opts.auth !== false && token) headers.set("Authorization", `Bearer ${token}`);
  try {
    return await fetch(buildUrl(path, opts.query), {
      method: opts.method ?? "GET",
      headers,
      body: encodeBody(opts.body, headers),
      signal: opts.signal,
      credentials: "same-origin",
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection.");
  }
}

export async function toApiError(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get("Retry-After")) || undefined;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string") {
    const b = body as { error: string; message?: unknown; field?: unknown };
    return new ApiError(
      res.status,
      b.error,
      typeof b.message === "string" ? b.message : b.error,
      typeof b.field === "string" ? b.field : undefined,
      retry,
    );
  }
  return new ApiError(res.status, `http_${res.status}`, res.statusText || `Request failed (${res.status})`, undefined, retry);
}

let refreshing: Promise<boolean> | null = null;

async function doRefresh(): Promise<boolean> {
  // Read the token now: another tab may have rotated it.
  const token = readRefreshToken();
  if (!token) return false;
  const res = await send("/admin/auth/refresh", { method: "POST", body: { refresh_token: token }, auth: false });
  if (!res.ok) {
    const err = await toApiError(res);
    if (err.status === 400 || err.status === 401) {
      sessionStore.clear();
      return false;
    }
    throw err;
  }
  sessionStore.set(sessionResponseSchema.parse(await res.json()));
  return true;
}

/**
 * Exchanges the stored refresh token for a new pair. Concurrent callers share
 * one request, and tabs take turns (Web Locks) so a rotated token is never
 * presented twice (which would revoke the whole session).
 */
export function refreshSession(): Promise<boolean> {
  if (!refreshing) {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    const run = locks ? locks.request("nexmdm-refresh", doRefresh) : doRefresh();
    refreshing = Promise.resolve(run).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** fetch with the bearer token; on 401 refreshes once and retries. Throws ApiError when not ok. */
export async function authedFetch(path: string, opts: RequestOptions = {}): Promise<Response> {
  let res = await send(path, opts);
  if (res.status === 401 && opts.auth !== false) {
    let refreshed = false;
    try {
      refreshed = await refreshSession();
    } catch {
      refreshed = false;
    }
    if (refreshed) res = await send(path, opts);
    if (res.status === 401) {
      sessionStore.clear(); // RequireAuth sends the user to /login
      throw new ApiError(401, "session_expired", "Your session has ended. Please log in again.");
    }
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

/** A JSON request, its answer checked against `schema`. */
export async function api<S extends z.ZodType>(path: string, schema: S, opts?: RequestOptions): Promise<z.infer<S>>;
export async function api(path: string, schema?: undefined, opts?: RequestOptions): Promise<unknown>;
export async function api(path: string, schema?: z.ZodType, opts: RequestOptions = {}): Promise<unknown> {
  const res = await authedFetch(path, opts);
  if (res.status === 204) return undefined;
  const text = await res.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!schema) return data;
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    console.error(`unexpected response from ${path}`, parsed.error);
    throw new ApiError(res.status, "invalid_response", `The server's answer to ${path} was not understood.`);
  }
  return parsed.data;
}
