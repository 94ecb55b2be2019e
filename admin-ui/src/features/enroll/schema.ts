import { z } from "zod";

/** What the operator types: the device's alias as the server will know it. */
export const aliasSchema = z
  .string()
  .trim()
  .min(1, "Enter an alias for the device")
  .refine((s) => new TextEncoder().encode(s).length <= 64, "At most 64 bytes")
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "Only printable characters");

/** How long the minted enroll key works (the server's expires_in_hours, 1-168, default 24). */
export const keyHoursSchema = z
  .number({ error: "A whole number of hours from 1 to 168" })
  .int("A whole number of hours from 1 to 168")
  .min(1, "A whole number of hours from 1 to 168")
  .max(168, "A whole number of hours from 1 to 168");

export const SCRIPT_FORMS = ["sh", "cmd", "sh-oneliner", "cmd-oneliner"] as const;
export type ScriptForm = (typeof SCRIPT_FORMS)[number];

export const enrollBuildSchema = z.object({
  id: z.string(),
  package: z.string(),
  version_code: z.number().int(),
  version_name: z.string(),
  sha256: z.string(),
  size_bytes: z.number().nullable(),
});

export const exitCodeSchema = z.object({
  code: z.number().int(),
  step: z.number().int().nullable(),
  meaning: z.string(),
  fix: z.string(),
});
export type ExitCode = z.infer<typeof exitCodeSchema>;

/** GET /admin/enroll/script?alias=…&kind=all */
export const enrollScriptSchema = z.object({
  alias: z.string(),
  key_id: z.string(),
  key_expires_at: z.string(),
  server_url: z.string(),
  build: enrollBuildSchema,
  scripts: z.object({
    sh: z.string(),
    cmd: z.string(),
    "sh-oneliner": z.string(),
    "cmd-oneliner": z.string(),
  }),
  exit_codes: z.array(exitCodeSchema),
});
export type EnrollScript = z.infer<typeof enrollScriptSchema>;

/** A file-name-safe form of an alias: lowercase letters, digits and dashes. */
export function aliasSlug(alias: string): string {
  const slug = alias
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
  return slug || "device";
}
