import { z } from "zod";
import { roleSchema } from "@/lib/permissions";

/** POST /admin/auth/login and /admin/auth/refresh answer this. */
export const sessionResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  user: z.object({ id: z.string(), username: z.string(), role: roleSchema }),
});
export type SessionResponse = z.infer<typeof sessionResponseSchema>;
export type SessionUser = SessionResponse["user"];

export interface Session {
  accessToken: string;
  /** ms since epoch when the access token lapses */
  expiresAt: number;
  user: SessionUser;
}

const REFRESH_KEY = "nexmdm.refresh_token";

/**
 * The session store: the access token lives in memory only, the refresh
 * token in localStorage so a reload can resume the session.
 */
let current: Session | null = null;
const listeners = new Set<() => void>();

function emit() {
  for (const l of listeners) l();
}

export const sessionStore = {
  get: (): Session | null => current,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  set(res: SessionResponse) {
    current = {
      accessToken: res.access_token,
      expiresAt: Date.now() + res.expires_in * 1000,
      user: res.user,
    };
    writeRefreshToken(res.refresh_token);
    emit();
  },
  clear() {
    current = null;
    writeRefreshToken(null);
    emit();
  },
};

export function readRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function writeRefreshToken(token: string | null) {
  try {
    if (token) localStorage.setItem(REFRESH_KEY, token);
    else localStorage.removeItem(REFRESH_KEY);
  } catch {
    // storage unavailable: the session lasts until reload
  }
}
