"use client";

import type { JobDetail, JobStatus, Task } from "@/api/client";
import { isFinishedJob, noArtifactsNote } from "@/lib/wording";
import { ArtifactCard } from "./ArtifactPreview";
import { Section, StatusBadge } from "./Common";
import { MockBadge } from "./Mock";
import { SafeMarkdown } from "./SafeMarkdown";

type Result = NonNullable<JobDetail["result"]>;

/** A failed or cancelled job: its error, the final tasks with their status, and the tasks that failed and why. */
function WhatFailed({ job, result, tasks }: { job: JobDetail; result: Result | null; tasks: readonly Task[] }) {
  const failed = tasks.filter((t) => t.status === "failed" || t.status === "blocked");
  return (
    <div data-testid="what-failed">
      {job.error ? (
        <p className="error" data-testid="job-error">
          {job.error}
        </p>
      ) : null}
      {failed.length > 0 ? (
        <>
          <h3>What failed</h3>
          <ul className="plain">
            {failed.map((t) => (
              <li key={t.key}>
                <StatusBadge status={t.status} /> <strong>{t.title}</strong> <code>{t.tool}</code>
                {t.error ? <div className="muted">{t.error}</div> : null}
              </li>
            ))}
          </ul>
          <p className="hint">Open a failed or blocked task to retry it.</p>
        </>
      ) : null}
      {result && result.tasks.length > 0 ? (
        <>
          <h3>Final tasks</h3>
          <ul className="plain" data-testid="final-tasks">
            {result.tasks.map((t) => (
              <li key={t.key}>
                <StatusBadge status={t.status} /> {t.title} <code>{t.tool}</code>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

/**
 * What a finished job produced, first on its page: the final tasks' text (markdown, rendered safely),
 * every artifact previewed with its download link; for a failed or cancelled job, what failed.
 */
export function ResultPanel({ job, status, tasks }: { job: JobDetail; status: JobStatus; tasks: readonly Task[] }) {
  // The live status decides: a reopened job's result, still in `job` until it is read again, is stale.
  if (!isFinishedJob(status) || status !== job.status) return null;
  const result = job.result ?? null;
  const failure = status !== "succeeded" ? <WhatFailed job={job} result={result} tasks={tasks} /> : null;
  if (!result) return <Section title="Result">{failure ?? <p className="muted">No result.</p>}</Section>;
  const mock = result.tasks.some((t) => t.mock && t.text);
  return (
    <Section title="Result">
      {failure}
      {result.text ? (
        <div className="result-text">
          {mock ? <MockBadge testId="result-mock" what="This result" /> : null}
          <SafeMarkdown text={result.text} testId="result-text" />
        </div>
      ) : status === "succeeded" ? (
        <p className="muted">The final tasks returned no text{result.artifacts.length ? "; see the artifacts" : ""}.</p>
      ) : null}
      <h3>Artifacts</h3>
      {result.artifacts.length === 0 ? (
        <p className="muted">{noArtifactsNote(status)}</p>
      ) : (
        result.artifacts.map((artifact) => <ArtifactCard key={artifact.id} artifact={artifact} />)
      )}
    </Section>
  );
}
