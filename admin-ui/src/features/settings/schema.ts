import { z } from "zod";

export const ROLES = ["admin", "operator", "viewer"] as const;
export const role = z.enum(ROLES);
export type Role = z.infer<typeof role>;
export const ROLE_HELP: Record<Role, string> = {
  admin: "everything",
  operator: "read, command, enroll",
  viewer: "read only",
};

export const SCOPES = ["admin", "enroll", "apk:write"] as const;
export const scope = z.enum(SCOPES);
export type Scope = z.infer<typeof scope>;
export const SCOPE_HELP: Record<Scope, string> = {
  admin: "every permission",
  enroll: "enroll devices",
  "apk:write": "register and upload APK builds (CI)",
};

export const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: role,
  created_at: z.string(),
  created_by: z.string(),
});
export type User = z.infer<typeof userSchema>;
export const userListSchema = z.object({ users: z.array(userSchema) });

export const changedSchema = z.object({ id: z.string(), result: z.literal("ok") });

export const createUserSchema = z.object({
  username: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/, "2-64 letters, digits, ., _ or -, starting with a letter or digit"),
  password: z
    .string()
    .refine((p) => new TextEncoder().encode(p).length >= 12, "At least 12 characters")
    .refine((p) => new TextEncoder().encode(p).length <= 72, "At most 72 bytes"),
  role: role,
});
export type CreateUser = z.infer<typeof createUserSchema>;

export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  created_at: z.string(),
  created_by: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});
export type APIKey = z.infer<typeof apiKeySchema>;
export const apiKeyListSchema = z.object({ api_keys: z.array(apiKeySchema) });

export const createdAPIKeySchema = z.object({ api_key: apiKeySchema, key: z.string() });
export type CreatedAPIKey = z.infer<typeof createdAPIKeySchema>;

export const createAPIKeySchema = z.object({
  name: z.string().trim().min(1, "Enter a name").max(100, "At most 100 characters"),
  scopes: z.array(scope).min(1, "Choose at least one scope"),
  expires_in_hours: z
    .number({ error: "A whole number of hours from 0 to 8784" })
    .int("A whole number of hours from 0 to 8784")
    .min(0, "A whole number of hours from 0 to 8784")
    .max(8784, "A whole number of hours from 0 to 8784"),
});
export type CreateAPIKey = z.infer<typeof createAPIKeySchema>;

export const auditEntrySchema = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  source_ip: z.string(),
  result: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  next_cursor: z.string().nullable(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/** Filters of GET /admin/audit: exact values; from/to as RFC 3339. */
export type AuditFilters = {
  actor?: string;
  action?: string;
  target?: string;
  result?: string;
  from?: string;
  to?: string;
};

export function keyState(k: APIKey, now = Date.now()): "revoked" | "expired" | "active" {
  if (k.revoked_at) return "revoked";
  if (k.expires_at && Date.parse(k.expires_at) <= now) return "expired";
  return "active";
}
