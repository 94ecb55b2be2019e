import { api, authedFetch } from "@/lib/api";
import { filenameFromDisposition, saveBlob } from "@/lib/download";
import { buildPageSchema, buildSchema, type Build, type RegisterBuildRequest } from "./schema";

export type BuildFilters = { package?: string; channel?: string; uploaded?: boolean };

export const apkKeys = {
  all: ["apk", "builds"] as const,
  list: (f: BuildFilters) => ["apk", "builds", f] as const,
};

export const BUILD_PAGE = 50;

export const listBuilds = (f: BuildFilters, cursor?: string, signal?: AbortSignal) =>
  api("/admin/apk/builds", buildPageSchema, { query: { ...f, limit: BUILD_PAGE, cursor }, signal });

export const registerBuild = (body: RegisterBuildRequest) =>
  api("/admin/apk/register", buildSchema, { method: "POST", body });

/** POST /admin/apk/upload: build_id first, so the server can refuse before the file is sent. */
export function uploadBuildFile(buildId: string, file: File) {
  const form = new FormData();
  form.append("build_id", buildId);
  form.append("file", file, file.name);
  return api("/admin/apk/upload", buildSchema, { method: "POST", body: form });
}

export const deleteBuild = (id: string) =>
  api(`/admin/apk/builds/${encodeURIComponent(id)}`, undefined, { method: "DELETE" });

/** Fetches the file with the bearer token (a link cannot send it) and saves it. */
export async function downloadBuild(b: Build) {
  const res = await authedFetch(`/admin/apk/download/${encodeURIComponent(b.id)}`);
  const blob = await res.blob();
  const name = filenameFromDisposition(res.headers.get("Content-Disposition")) ?? `${b.package}-${b.version_code}.apk`;
  saveBlob(blob, name);
}
