import { createContext, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, refreshSession } from "@/lib/api";
import { roleCan, type Permission, type Role } from "@/lib/permissions";
import { readRefreshToken, sessionResponseSchema, sessionStore, type SessionUser } from "@/lib/session";

type Status = "loading" | "authenticated" | "anonymous";

interface AuthContextValue {
  status: Status;
  user: SessionUser | null;
  role: Role | undefined;
  can: (perm: Permission) => boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

/** Refresh this long before the access token lapses (keeps the live feed authenticated). */
const REFRESH_MARGIN_MS = 60_000;

export function AuthProvider({ children }: { children: React.ReactNode }) {
  const session = useSyncExternalStore(sessionStore.subscribe, sessionStore.get);
  const [resuming, setResuming] = useState(() => !sessionStore.get() && readRefreshToken() !== null);
  const queryClient = useQueryClient();

  // Resume a session after a reload from the stored refresh token.
  useEffect(() => {
    if (!resuming) return;
    refreshSession()
      .catch(() => false)
      .finally(() => setResuming(false));
  }, [resuming]);

  // Refresh the access token shortly before it lapses.
  useEffect(() => {
    if (!session) return;
    const delay = Math.max(5_000, session.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    const t = window.setTimeout(() => {
      refreshSession().catch(() => undefined);
    }, delay);
    return () => window.clearTimeout(t);
  }, [session]);

  const login = useCallback(async (username: string, password: string) => {
    const res = await api("/admin/auth/login", sessionResponseSchema, {
      method: "POST",
      body: { username, password },
      auth: false,
    });
    sessionStore.set(res);
  }, []);

  const logout = useCallback(async () => {
    const token = readRefreshToken();
    sessionStore.clear();
    queryClient.clear();
    if (token) {
      await api("/admin/auth/logout", undefined, {
        method: "POST",
        body: { refresh_token: token },
        auth: false,
      }).catch(() => undefined); // the local session is gone either way
    }
  }, [queryClient]);

  const role = session?.user.role;
  const can = useCallback((perm: Permission) => roleCan(role, perm), [role]);
  const status: Status = session ? "authenticated" : resuming ? "loading" : "anonymous";

  const value = useMemo(
    () => ({ status, user: session?.user ?? null, role, can, login, logout }),
    [status, session, role, can, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}

/** True when the signed-in user holds `perm`. */
export function useCan(perm: Permission): boolean {
  return useAuth().can(perm);
}
