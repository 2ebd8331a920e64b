"use client";

import Link from "next/link";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useArtifacts } from "@/hooks/useArtifacts";
import { isMockProvider, useHealth } from "@/hooks/useHealth";
import { useCancelJob, useJob } from "@/hooks/useJob";
import type { StreamStatus } from "@/hooks/useJobEvents";
import { useLiveJob } from "@/hooks/useLiveJob";
import { useMissingScope } from "@/hooks/useSession";
import { usePlans } from "@/hooks/usePlans";
import { useTasks } from "@/hooks/useTasks";
import { foldJobStatus, foldTaskStatuses, initialStatuses } from "@/graph/status";
import { lastChangeId } from "@/lib/streaming";
import { isFinishedJob } from "@/lib/wording";
import { Artifacts } from "./Artifacts";
import { ErrorNote, Section } from "./Common";
import { EventTimeline } from "./EventTimeline";
import { JobSummary } from "./JobSummary";
import { MockBadge } from "./Mock";
import { PinToggle } from "./PinToggle";
import type { PlanGraphTask } from "./PlanGraph";
import { PlanView } from "./PlanView";
import { ResultPanel } from "./ResultPanel";
import { TaskPanel } from "./TaskPanel";
import { TaskTable } from "./TaskTable";

const STREAM_LABELS: Record<StreamStatus, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost, reconnecting…",
  ended: "Finished",
};

/** The job page: its result first once finished, then the plan (graph or timeline), tasks, events, task panel, artifacts. */
export function JobView({ jobId }: { jobId: string }) {
  const job = useJob(jobId);
  const health = useHealth();
  const tasks = useTasks(jobId);
  const artifacts = useArtifacts(jobId);
  const plans = usePlans(jobId);
  const { events, status: stream, resume } = useLiveJob(jobId, job.data, job.reload);
  const [selected, setSelected] = useState<string | null>(null);
  const [openArtifact, setOpenArtifact] = useState<string | null>(null);
  const panelRef = useRef<HTMLDivElement>(null);

  // On a phone the task panel is far below the graph: bring it into view when a task is chosen.
  useEffect(() => {
    const panel = panelRef.current;
    if (!selected || !panel) return;
    const top = panel.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 80) panel.scrollIntoView?.({ block: "start" });
  }, [selected]);

  // Reload the resources shortly after events arrive (coalescing bursts) and when the stream ends.
  const reloaders = useRef({ job: job.reload, tasks: tasks.reload, artifacts: artifacts.reload, plans: plans.reload });
  reloaders.current = { job: job.reload, tasks: tasks.reload, artifacts: artifacts.reload, plans: plans.reload };
  const versions = events.filter((e) => e.type === "plan.created" || e.type === "plan.replanned").length;
  useEffect(() => {
    if (versions > 1) reloaders.current.plans(); // a replan: the versions and their diff
  }, [versions]);
  const lastId = lastChangeId(events); // streamed text changes nothing: no reload for it
  useEffect(() => {
    if (lastId === undefined) return;
    const timer = setTimeout(() => {
      reloaders.current.job();
      reloaders.current.tasks();
      reloaders.current.artifacts();
    }, 250);
    return () => clearTimeout(timer);
  }, [lastId, stream]);

  const reloadAll = useCallback(() => {
    reloaders.current.job();
    reloaders.current.tasks();
  }, []);
  const onRetried = useCallback(() => {
    reloadAll();
    resume();
  }, [reloadAll, resume]);
  const { cancel, busy: cancelling, error: cancelError } = useCancelJob(jobId, reloadAll);
  const cannotCancel = useMissingScope("jobs:write");

  const planTasks: PlanGraphTask[] = useMemo(() => {
    if (job.data?.plan) return job.data.plan.tasks;
    return (tasks.data ?? []).map((t) => ({ key: t.key, title: t.title, tool: t.tool, depends_on: t.depends_on }));
  }, [job.data?.plan, tasks.data]);

  const statuses = useMemo(
    () => foldTaskStatuses(events, initialStatuses(planTasks.map((t) => t.key), tasks.data ?? [])),
    [events, planTasks, tasks.data],
  );

  if (job.error && !job.data) {
    return (
      <>
        <ErrorNote message={job.error} />
        <p>
          <Link href="/">Back to jobs</Link>
        </p>
      </>
    );
  }
  if (!job.data) return <p className="muted">Loading job…</p>;

  const jobStatus = foldJobStatus(events, job.data.status);
  const finished = isFinishedJob(jobStatus);
  // The mock model wrote some of this job's text, or writes it now (the job runs and /healthz says mock).
  const mock = (job.data.usage?.mock_calls ?? 0) > 0 || (!finished && isMockProvider(health));
  // The live task of that key (a replan may have replaced an older one with the same key).
  const selectedTask = [...(tasks.data ?? [])].reverse().find((t) => t.key === selected) ?? null;

  return (
    <>
      <div className="card-head">
        <div className="row" style={{ marginTop: 0 }}>
          <h1 style={{ margin: 0 }}>Job</h1>
          {mock ? <MockBadge testId="job-mock" what="This job's text" /> : null}
        </div>
        <div className="row" style={{ marginTop: 0 }}>
          <span className="stream" data-status={stream} role="status" aria-live="polite">
            {STREAM_LABELS[stream]}
          </span>
          <PinToggle job={job.data} onChanged={reloadAll} />
          {finished ? null : (
            <button
              type="button"
              className="danger"
              onClick={cancel}
              disabled={cancelling || cannotCancel !== null}
              title={cannotCancel ?? undefined}
            >
              {cancelling ? "Cancelling…" : "Cancel job"}
            </button>
          )}
        </div>
      </div>
      <ErrorNote message={cancelError} />
      <ErrorNote message={job.error} />

      <ResultPanel job={job.data} status={jobStatus} tasks={tasks.data ?? []} />
      <JobSummary job={job.data} status={jobStatus} />
      <PlanView
        tasks={planTasks}
        statuses={statuses}
        events={events}
        finished={finished}
        selected={selected}
        onSelect={setSelected}
        versions={plans.data ?? []}
      />

      <div className="grid">
        <div>
          <Section title="Tasks">
            <ErrorNote message={tasks.error} />
            {planTasks.length === 0 ? <p className="muted">Planning…</p> : null}
            <TaskTable
              planTasks={planTasks}
              tasks={tasks.data ?? []}
              statuses={statuses}
              selected={selected}
              onSelect={setSelected}
            />
          </Section>
          <Section title={`Events (${events.length})`}>
            <EventTimeline events={events} />
          </Section>
        </div>
        <div>
          <div ref={panelRef}>
            <Section
              title="Task"
              actions={
                selectedTask ? (
                  <button type="button" onClick={() => setSelected(null)}>
                    Close
                  </button>
                ) : null
              }
            >
              {selectedTask ? (
                <TaskPanel
                  task={selectedTask}
                  liveStatus={statuses[selectedTask.key] ?? selectedTask.status}
                  jobStatus={jobStatus}
                  events={events}
                  onChanged={reloadAll}
                  onRetried={onRetried}
                />
              ) : (
                <p className="muted">Choose a task in the graph or the table to see its details.</p>
              )}
            </Section>
          </div>
          <Section title="Artifacts">
            <ErrorNote message={artifacts.error} />
            <Artifacts
              artifacts={artifacts.data ?? []}
              jobStatus={jobStatus}
              open={openArtifact}
              onOpen={setOpenArtifact}
            />
          </Section>
        </div>
      </div>
    </>
  );
}
