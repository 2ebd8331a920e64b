import { useCallback } from "react";
import { api, apiFetch, apiUrl, type Artifact } from "@/api/client";
import { describeApiError, describeThrown, unwrap } from "@/api/errors";
import { loadsText } from "@/lib/artifacts";
import { useResource } from "./useResource";

/** A job's artifacts (metadata), oldest first. */
export function useArtifacts(jobId: string | null) {
  const load = useCallback(
    () =>
      unwrap(api.GET("/jobs/{job_id}/artifacts", { params: { path: { job_id: jobId ?? "" } } })),
    [jobId],
  );
  return useResource<Artifact[]>(`artifacts:${jobId}`, load, { enabled: Boolean(jobId) });
}

/** The text of one artifact, for its preview (only those whose preview is text, under MAX_PREVIEW_BYTES). */
export function useArtifactText(artifact: Artifact | null) {
  const previewable = artifact !== null && loadsText(artifact);
  const load = useCallback(async () => {
    if (!artifact) return "";
    let response: Response;
    try {
      response = await apiFetch(new Request(apiUrl(artifact.content_url)));
    } catch (thrown) {
      throw new Error(describeThrown(thrown));
    }
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => undefined);
      throw new Error(describeApiError(body, response));
    }
    return response.text();
  }, [artifact]);
  return useResource<string>(`artifact:${artifact?.id}`, load, { enabled: previewable });
}
