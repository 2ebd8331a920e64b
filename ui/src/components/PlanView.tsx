"use client";

import { useId, useRef, useState, type KeyboardEvent } from "react";
import type { PlanVersion, TaskStatus } from "@/api/client";
import type { JobEvent } from "@/hooks/useJobEvents";
import { streamedPlanText } from "@/lib/streaming";
import { versionGraph } from "@/lib/planDiff";
import { PlanGraph, type PlanGraphTask } from "./PlanGraph";
import { PlanVersions } from "./PlanVersions";
import { TimelineChart } from "./TimelineChart";

type View = "graph" | "timeline";
const VIEWS: readonly { id: View; label: string }[] = [
  { id: "graph", label: "Graph" },
  { id: "timeline", label: "Timeline" },
];

interface Props {
  tasks: readonly PlanGraphTask[];
  statuses: Readonly<Record<string, TaskStatus>>;
  events: readonly JobEvent[];
  finished: boolean;
  selected: string | null;
  onSelect: (key: string) => void;
  /** The job's plan versions (GET /jobs/{id}/plans): with more than one, a picker and the diff on the graph. */
  versions?: readonly PlanVersion[];
}

/** The plan as a graph of dependencies or as a timeline of attempts, in two tabs (arrow keys switch). */
export function PlanView({ tasks, statuses, events, finished, selected, onSelect, versions = [] }: Props) {
  const id = useId();
  const [view, setView] = useState<View>("graph");
  const [picked, setPicked] = useState<number | null>(null); // null: the newest version
  const shown = picked ?? versions[versions.length - 1]?.version ?? 0;
  const replanned = versions.length > 1 ? versionGraph(versions, shown) : null;
  const tabs = useRef<Record<View, HTMLButtonElement | null>>({ graph: null, timeline: null });
  const planText = streamedPlanText(events); // the LLM planner's answer as it streams, while planning

  function onKeyDown(event: KeyboardEvent<HTMLButtonElement>) {
    const index = VIEWS.findIndex((v) => v.id === view);
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    event.preventDefault();
    const next = VIEWS[(index + step + VIEWS.length) % VIEWS.length]?.id ?? "graph";
    setView(next);
    tabs.current[next]?.focus();
  }

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <div className="card-head">
        <h2 id={`${id}-title`}>Plan</h2>
        <div role="tablist" aria-label="Plan view" className="tabs">
          {VIEWS.map((v) => (
            <button
              key={v.id}
              ref={(element) => {
                tabs.current[v.id] = element;
              }}
              type="button"
              role="tab"
              id={`${id}-${v.id}-tab`}
              aria-selected={view === v.id}
              aria-controls={view === v.id ? `${id}-${v.id}-panel` : undefined}
              tabIndex={view === v.id ? 0 : -1}
              onClick={() => setView(v.id)}
              onKeyDown={onKeyDown}
            >
              {v.label}
            </button>
          ))}
        </div>
      </div>
      {replanned ? <PlanVersions versions={versions} shown={shown} onPick={setPicked} /> : null}
      <div role="tabpanel" id={`${id}-${view}-panel`} aria-labelledby={`${id}-${view}-tab`}>
        {tasks.length === 0 && planText !== null ? (
          <pre className="text" data-testid="plan-streaming" aria-live="polite">
            {planText}
          </pre>
        ) : view === "graph" ? (
          <PlanGraph
            tasks={replanned?.tasks ?? tasks}
            statuses={statuses}
            marks={replanned?.marks}
            selected={selected}
            onSelect={onSelect}
          />
        ) : (
          <TimelineChart tasks={tasks} events={events} finished={finished} selected={selected} onSelect={onSelect} />
        )}
      </div>
    </section>
  );
}
