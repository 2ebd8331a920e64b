import { useCallback } from "react";
import { api, type Schemas } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

export type UsageReport = Schemas["UsageReport"];

/** What model calls cost per UTC day, model, tenant and job (GET /usage), over `from`..`to` (ISO days;
 * the API's default range, the last 30 days, when empty). */
export function useUsage(from: string, to: string) {
  const load = useCallback(
    () => unwrap(api.GET("/usage", { params: { query: { ...(from ? { from } : {}), ...(to ? { to } : {}), jobs: 20 } } })),
    [from, to],
  );
  return useResource<UsageReport>(`usage:${from}:${to}`, load);
}
