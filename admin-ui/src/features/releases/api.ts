import { api } from "@/lib/api";
import { buildPageSchema } from "@/features/apk/schema";
import { adoptionSchema, releaseListSchema, releaseSchema, rollbackSchema, type CreateRelease } from "./schema";

export const releaseKeys = {
  all: ["releases"] as const,
  list: ["releases", "list"] as const,
  adoption: (id: string) => ["releases", "adoption", id] as const,
  builds: ["releases", "uploaded-builds"] as const,
};

export const listReleases = () => api("/admin/releases", releaseListSchema, { query: { limit: 200 } }).then((r) => r.items);
export const createRelease = (body: CreateRelease) => api("/admin/releases", releaseSchema, { method: "POST", body });
export const setRolloutPercent = (id: string, rollout_percent: number) =>
  api(`/admin/releases/${encodeURIComponent(id)}`, releaseSchema, { method: "PATCH", body: { rollout_percent } });
export const promoteRelease = (id: string) =>
  api(`/admin/releases/${encodeURIComponent(id)}/promote`, releaseSchema, { method: "POST" });
export const pauseRelease = (id: string, reason: string) =>
  api(`/admin/releases/${encodeURIComponent(id)}/pause`, releaseSchema, {
    method: "POST",
    body: reason ? { reason } : {},
  });
export const resumeRelease = (id: string) =>
  api(`/admin/releases/${encodeURIComponent(id)}/resume`, releaseSchema, { method: "POST" });
export const rollbackRelease = (id: string, downgrade: boolean) =>
  api(`/admin/releases/${encodeURIComponent(id)}/rollback`, rollbackSchema, { method: "POST", body: { downgrade } });
export const releaseAdoption = (id: string) => api(`/admin/releases/${encodeURIComponent(id)}/adoption`, adoptionSchema);

/** Uploaded builds to release from (the newest 200). */
export const listUploadedBuilds = () =>
  api("/admin/apk/builds", buildPageSchema, { query: { uploaded: true, limit: 200 } }).then((r) => r.items);
