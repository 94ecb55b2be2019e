import { z } from "zod";

export const roleSchema = z.enum(["admin", "operator", "viewer"]);
export type Role = z.infer<typeof roleSchema>;

export const permissionSchema = z.enum(["read", "command", "enroll", "apk:write", "manage"]);
export type Permission = z.infer<typeof permissionSchema>;

/** Mirrors ingress/adminauth rolePermits: what each role may do. */
export const rolePermissions: Record<Role, readonly Permission[]> = {
  admin: ["read", "command", "enroll", "apk:write", "manage"],
  operator: ["read", "command", "enroll"],
  viewer: ["read"],
};

export function roleCan(role: Role | undefined, perm: Permission): boolean {
  return role ? rolePermissions[role].includes(perm) : false;
}
