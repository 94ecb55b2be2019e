import { api } from "@/lib/api";
import {
  apiKeyListSchema,
  auditPageSchema,
  changedSchema,
  createdAPIKeySchema,
  userListSchema,
  userSchema,
  type AuditFilters,
  type CreateAPIKey,
  type CreateUser,
  type Role,
} from "./schema";

export const settingsKeys = {
  users: ["settings", "users"] as const,
  keys: ["settings", "api-keys"] as const,
  audit: (f: AuditFilters) => ["settings", "audit", f] as const,
};

export const listUsers = () => api("/admin/users", userListSchema).then((r) => r.users);
export const createUser = (body: CreateUser) => api("/admin/users", userSchema, { method: "POST", body });
export const setUserRole = (id: string, role: Role) =>
  api(`/admin/users/${encodeURIComponent(id)}`, changedSchema, { method: "PATCH", body: { role } });
export const setUserPassword = (id: string, password: string) =>
  api(`/admin/users/${encodeURIComponent(id)}`, changedSchema, { method: "PATCH", body: { password } });
export const deleteUser = (id: string) =>
  api(`/admin/users/${encodeURIComponent(id)}`, changedSchema, { method: "DELETE" });

export const listAPIKeys = () => api("/admin/keys", apiKeyListSchema).then((r) => r.api_keys);
export const createAPIKey = (body: CreateAPIKey) =>
  api("/admin/keys", createdAPIKeySchema, { method: "POST", body });
export const revokeAPIKey = (id: string) =>
  api(`/admin/keys/${encodeURIComponent(id)}`, changedSchema, { method: "DELETE" });

export const AUDIT_PAGE = 100;
export const listAudit = (f: AuditFilters, cursor?: string, signal?: AbortSignal) =>
  api("/admin/audit", auditPageSchema, { query: { ...f, limit: AUDIT_PAGE, cursor }, signal });
