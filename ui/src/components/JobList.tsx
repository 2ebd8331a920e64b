"use client";

import Link from "next/link";
import { useId, useState } from "react";
import type { JobStatus } from "@/api/client";
import { IDLE_REFRESH_MS, useJobs, type JobsLiveStatus } from "@/hooks/useJobs";
import { formatTime } from "@/lib/format";
import { ErrorNote, StatusBadge } from "./Common";

const JOB_STATUSES: readonly JobStatus[] = ["pending", "planning", "running", "succeeded", "failed", "cancelled"];

const LIVE_LABELS: Record<JobsLiveStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
  idle: `Nothing running: checking every ${IDLE_REFRESH_MS / 1000} s`,
};

export function JobList() {
  const id = useId();
  const [status, setStatus] = useState<JobStatus | "">("");
  const jobs = useJobs(status);

  return (
    <div>
      <div className="row" style={{ marginTop: 0 }}>
        <label htmlFor={`${id}-status`} style={{ margin: 0 }}>
          Status
        </label>
        <select
          id={`${id}-status`}
          value={status}
          onChange={(e) => setStatus(e.target.value as JobStatus | "")}
          style={{ maxWidth: "12rem" }}
        >
          <option value="">All</option>
          {JOB_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button type="button" onClick={jobs.reload}>
          Refresh
        </button>
        <span className="stream" data-status={jobs.live} role="status" aria-live="polite" data-testid="jobs-live">
          {LIVE_LABELS[jobs.live]}
        </span>
      </div>
      <ErrorNote message={jobs.error} />
      {jobs.data === undefined ? (
        jobs.loading ? <p className="muted">Loading jobs…</p> : null
      ) : jobs.data.length === 0 ? (
        <p className="muted">{status ? `No ${status} jobs.` : "No jobs yet. Submit one with the form."}</p>
      ) : (
        <div className="table-wrap">
          <table className="stack">
            <caption className="muted" style={{ textAlign: "left" }}>
              {jobs.data.length} job{jobs.data.length === 1 ? "" : "s"}, newest first{jobs.live === "idle" ? "" : ", updated live"}
            </caption>
            <thead>
              <tr>
                <th scope="col">Goal</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col" className="wide-only">
                  Priority
                </th>
                <th scope="col">Created</th>
                <th scope="col" className="wide-only">
                  Finished
                </th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => (
                <tr key={job.id} data-testid={`job-row-${job.id}`}>
                  <td className="goal">
                    <Link href={`/job/?id=${encodeURIComponent(job.id)}`}>
                      {job.goal.length > 140 ? `${job.goal.slice(0, 140)}…` : job.goal}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge kind="job" status={job.status} />
                    {job.pinned ? <span className="muted" title="Pinned: retention keeps it"> 📌</span> : null}
                  </td>
                  <td>
                    <progress
                      max={Math.max(job.tasks.total, 1)}
                      value={job.tasks.succeeded}
                      aria-label={`${job.tasks.succeeded} of ${job.tasks.total} tasks succeeded`}
                    />{" "}
                    {job.tasks.succeeded}/{job.tasks.total}
                    {job.tasks.failed > 0 ? <span className="muted"> ({job.tasks.failed} failed)</span> : null}
                  </td>
                  <td className="wide-only">{job.priority}</td>
                  <td data-label="Created">{formatTime(job.created_at)}</td>
                  <td className="wide-only">{formatTime(job.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
