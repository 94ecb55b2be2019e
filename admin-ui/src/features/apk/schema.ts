import { z } from "zod";

export const buildSchema = z.object({
  id: z.string(),
  package: z.string(),
  version_code: z.number().int(),
  version_name: z.string(),
  sha256: z.string(),
  signer_fingerprint: z.string(),
  channel: z.string(),
  git_sha: z.string(),
  ci_run_url: z.string(),
  uploaded: z.boolean(),
  size_bytes: z.number().nullable(),
  uploaded_at: z.string().nullable(),
  registered_by: z.string(),
  registered_at: z.string(),
  download_url: z.string(),
});
export type Build = z.infer<typeof buildSchema>;

export const buildPageSchema = z.object({
  items: z.array(buildSchema),
  next_cursor: z.string().nullable(),
});
export type BuildPage = z.infer<typeof buildPageSchema>;

/** The upload form (POST /admin/apk/register, then the file). */
export const uploadFormSchema = z.object({
  package: z
    .string()
    .trim()
    .min(1, "Enter the Android package name")
    .max(255)
    .regex(/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/, "Like com.example.app"),
  version_code: z
    .string()
    .trim()
    .regex(/^[1-9][0-9]*$/, "A whole number from 1")
    .refine((s) => Number(s) <= 2100000000, "At most 2100000000"),
  version_name: z.string().trim().max(100),
  channel: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, "1-32 lowercase letters, digits, ., _ or -"),
  signer_fingerprint: z
    .string()
    .trim()
    .refine((s) => s === "" || /^[0-9a-fA-F]{64}$/.test(s.replace(/:/g, "")), "64 hex digits, with or without colons"),
  git_sha: z
    .string()
    .trim()
    .refine((s) => s === "" || /^[0-9a-fA-F]{7,64}$/.test(s), "7 to 64 hex digits"),
  ci_run_url: z
    .string()
    .trim()
    .refine((s) => s === "" || /^https?:\/\/\S+$/.test(s), "An http(s) URL"),
});
export type UploadForm = z.infer<typeof uploadFormSchema>;

export type RegisterBuildRequest = {
  package: string;
  version_code: number;
  version_name?: string;
  sha256: string;
  channel: string;
  signer_fingerprint?: string;
  git_sha?: string;
  ci_run_url?: string;
};

export function toRegisterRequest(f: UploadForm, sha256: string): RegisterBuildRequest {
  const req: RegisterBuildRequest = {
    package: f.package,
    version_code: Number(f.version_code),
    sha256,
    channel: f.channel,
  };
  if (f.version_name) req.version_name = f.version_name;
  if (f.signer_fingerprint) req.signer_fingerprint = f.signer_fingerprint;
  if (f.git_sha) req.git_sha = f.git_sha;
  if (f.ci_run_url) req.ci_run_url = f.ci_run_url;
  return req;
}

/** A size for people: "12.3 MiB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
