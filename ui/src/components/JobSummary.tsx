"use client";

import type { JobDetail, JobStatus } from "@/api/client";
import { formatSpend, formatTime, formatUsage } from "@/lib/format";
import { Section, StatusBadge } from "./Common";

/** The job's goal, live status, progress, model use and times (its error is in the result panel). */
export function JobSummary({ job, status }: { job: JobDetail; status: JobStatus }) {
  return (
    <Section title="Summary">
      <p style={{ marginTop: 0, whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{job.goal}</p>
      <dl className="facts">
        <dt>Status</dt>
        <dd data-testid="job-status">
          <StatusBadge kind="job" status={status} />
        </dd>
        <dt>Progress</dt>
        <dd>
          {job.tasks.succeeded} of {job.tasks.total} tasks succeeded
          {job.tasks.failed ? `, ${job.tasks.failed} failed or blocked` : ""}
        </dd>
        <dt>Model use</dt>
        <dd data-testid="job-usage">{formatUsage(job.usage)}</dd>
        {job.cost_usd || job.budget_usd != null ? (
          <>
            <dt>Spend</dt>
            <dd data-testid="job-spend">{formatSpend(job.cost_usd ?? 0, job.budget_usd)}</dd>
          </>
        ) : null}
        <dt>Priority</dt>
        <dd>{job.priority}</dd>
        <dt>Created</dt>
        <dd>{formatTime(job.created_at)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(job.finished_at)}</dd>
        <dt>Id</dt>
        <dd>
          <code>{job.id}</code>
        </dd>
        {job.trace_id ? (
          <>
            <dt>Trace</dt>
            <dd data-testid="job-trace">
              {/* Jaeger's own page for the trace when JAEGER_URL is set; the id alone otherwise. */}
              {job.trace_url ? (
                <a href={job.trace_url} target="_blank" rel="noopener noreferrer">
                  Open in Jaeger <code>{job.trace_id}</code>
                </a>
              ) : (
                <code>{job.trace_id}</code>
              )}
            </dd>
          </>
        ) : null}
      </dl>
    </Section>
  );
}
