"use client";

import { useEffect, useMemo, useState } from "react";
import type { JobEvent } from "@/hooks/useJobEvents";
import {
  PHASE_KINDS,
  PHASE_LABELS,
  axisTicks,
  buildTimeline,
  formatOffset,
  phaseBox,
  type Phase,
  type TimelineRow,
} from "@/graph/timeline";
import type { PlanGraphTask } from "./PlanGraph";

interface Props {
  tasks: readonly PlanGraphTask[];
  events: readonly JobEvent[];
  /** The job has finished: nothing grows any more. */
  finished: boolean;
  selected: string | null;
  onSelect: (key: string) => void;
}

/** The current time, once a second while `ticking` (bars still going grow with it). */
function useNow(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

function describe(row: TimelineRow, phase: Phase): string {
  const duration = formatOffset(phase.end - phase.start);
  const still = phase.open ? ", still going" : "";
  const redo = phase.rework && phase.kind !== "rework" ? " (rework)" : "";
  return `${row.title} (${row.key}), attempt ${phase.attempt}${redo}: ${PHASE_LABELS[phase.kind]} for ${duration}${still}, from ${formatOffset(phase.start)}`;
}

/** Runs drawn last, on top: a run too short to see (its events in one transaction) stays a visible sliver. */
const DRAW_ORDER: Record<Phase["kind"], number> = { queued: 0, approval: 0, review: 1, running: 2, rework: 2 };
const inDrawOrder = (phases: readonly Phase[]) =>
  phases.map((phase, index) => ({ phase, index })).sort((a, b) => DRAW_ORDER[a.phase.kind] - DRAW_ORDER[b.phase.kind]);

function Bar({ row, phase, span }: { row: TimelineRow; phase: Phase; span: number }) {
  const box = phaseBox(phase, span);
  const label = describe(row, phase);
  return (
    <span
      className={`gantt-bar gantt-${phase.kind}${phase.rework ? " gantt-redo" : ""}${phase.open ? " gantt-open" : ""}`}
      role="img"
      aria-label={label}
      title={label}
      data-testid={`bar-${row.key}`}
      data-kind={phase.kind}
      data-attempt={phase.attempt}
      style={{ left: `${box.left}%`, width: `${box.width}%` }}
    />
  );
}

function Legend() {
  return (
    <div className="legend" aria-label="Timeline colours">
      {PHASE_KINDS.map((kind) => (
        <span key={kind} className="gantt-key">
          <span className={`gantt-swatch gantt-${kind}`} aria-hidden="true" /> {PHASE_LABELS[kind]}
        </span>
      ))}
    </div>
  );
}

/**
 * Every task attempt over time (a Gantt chart from the job's events): per task a row, per attempt its
 * waits (queued, awaiting approval), its run, the critic's review and any rework, on one time axis
 * from the job's first event, so parallel work and waiting show.
 */
export function TimelineChart({ tasks, events, finished, selected, onSelect }: Props) {
  const now = useNow(!finished);
  const timeline = useMemo(() => buildTimeline(events, tasks, { now, finished }), [events, tasks, now, finished]);
  const ticks = axisTicks(timeline.span);
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <div className="gantt" data-testid="timeline">
      <div className="gantt-grid gantt-axis" aria-hidden="true">
        <span className="gantt-label muted">since submitted</span>
        <div className="gantt-track">
          {ticks.map((tick) => (
            <span key={tick} className="gantt-tick" style={{ left: `${(tick / timeline.span) * 100}%` }}>
              {formatOffset(tick)}
            </span>
          ))}
        </div>
      </div>
      <ol className="gantt-rows" aria-label="Task timeline">
        {timeline.rows.map((row) => (
          <li key={row.key} className={`gantt-grid${row.key === selected ? " selected" : ""}`} data-key={row.key}>
            <button type="button" className="link gantt-label" title={`${row.title} (${row.tool})`} onClick={() => onSelect(row.key)}>
              {row.title}
            </button>
            <div className="gantt-track">
              {ticks.map((tick) => (
                <span key={tick} className="gantt-line" style={{ left: `${(tick / timeline.span) * 100}%` }} />
              ))}
              {row.phases.length === 0 ? <span className="gantt-none muted">not run</span> : null}
              {inDrawOrder(row.phases).map(({ phase, index }) => (
                <Bar key={index} row={row} phase={phase} span={timeline.span} />
              ))}
            </div>
          </li>
        ))}
      </ol>
      <Legend />
      {timeline.rows.some((row) => row.phases.some((phase) => phase.rework)) ? (
        <p className="gantt-note muted">
          Outlined in orange: an attempt made again because the critic asked for a rework.
        </p>
      ) : null}
    </div>
  );
}
