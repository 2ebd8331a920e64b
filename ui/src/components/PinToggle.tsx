"use client";

import type { JobDetail } from "@/api/client";
import { usePinJob } from "@/hooks/useJob";
import { useMissingScope } from "@/hooks/useSession";
import { ErrorNote } from "./Common";

interface Props {
  job: Pick<JobDetail, "id" | "pinned">;
  /** The pin changed: reload the job. */
  onChanged: () => void;
}

/** Pin a job so retention (RETENTION_DAYS) keeps it, or unpin it again. */
export function PinToggle({ job, onChanged }: Props) {
  const { setPinned, busy, error } = usePinJob(job.id, onChanged);
  const denied = useMissingScope("jobs:write");
  const pinned = job.pinned ?? false;
  const why = pinned
    ? "Pinned: kept however old it gets. Unpin to let retention delete it with the other old jobs."
    : "Pin to keep this job when retention deletes old finished jobs.";
  return (
    <>
      <button
        type="button"
        aria-pressed={pinned}
        data-testid="pin-toggle"
        disabled={busy || denied !== null}
        title={denied ?? why}
        onClick={() => setPinned(!pinned)}
      >
        {busy ? (pinned ? "Unpinning…" : "Pinning…") : pinned ? "Unpin" : "Pin"}
      </button>
      <ErrorNote message={error} />
    </>
  );
}
