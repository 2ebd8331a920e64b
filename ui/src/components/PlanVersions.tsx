"use client";

import type { PlanVersion } from "@/api/client";
import { MARK_LABELS, versionLabel } from "@/lib/planDiff";

interface Props {
  versions: readonly PlanVersion[];
  shown: number;
  onPick: (version: number) => void;
}

/** A replanned job's plan versions as a row of toggle buttons, with why the one shown was made. */
export function PlanVersions({ versions, shown, onPick }: Props) {
  const current = versions.find((v) => v.version === shown);
  return (
    <div className="plan-versions" data-testid="plan-versions">
      <div className="row" role="group" aria-label="Plan versions" style={{ marginTop: 0 }}>
        {versions.map((v) => (
          <button
            key={v.version}
            type="button"
            aria-pressed={v.version === shown}
            title={versionLabel(v)}
            data-testid={`plan-version-${v.version}`}
            onClick={() => onPick(v.version)}
          >
            v{v.version}
          </button>
        ))}
      </div>
      {current?.reason ? (
        <p className="muted" data-testid="plan-version-reason">
          Replanned by the {current.planner} planner because {current.reason}
        </p>
      ) : null}
      {current?.diff ? (
        <p className="muted legend" aria-label="Plan changes">
          {current.diff.added.length ? <span className="badge" data-mark="added">{MARK_LABELS.added}: {current.diff.added.join(", ")}</span> : null}
          {current.diff.changed.length ? (
            <span className="badge" data-mark="changed">
              {MARK_LABELS.changed}: {current.diff.changed.map((c) => `${c.key} (${Object.keys(c.fields).join(", ")})`).join("; ")}
            </span>
          ) : null}
          {current.diff.removed.length ? <span className="badge" data-mark="removed">{MARK_LABELS.removed}: {current.diff.removed.join(", ")}</span> : null}
        </p>
      ) : null}
    </div>
  );
}
