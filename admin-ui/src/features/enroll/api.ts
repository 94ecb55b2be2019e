import { api } from "@/lib/api";
import { enrollScriptSchema, type EnrollScript } from "./schema";

/**
 * GET /admin/enroll/script?alias=…&kind=all. Every call mints a new enroll
 * key, so it is a mutation in the UI: never cached, refetched or retried.
 */
export function generateEnrollScripts({ alias, hours }: { alias: string; hours: number }): Promise<EnrollScript> {
  return api("/admin/enroll/script", enrollScriptSchema, {
    query: { alias, kind: "all", expires_in_hours: hours },
  });
}
