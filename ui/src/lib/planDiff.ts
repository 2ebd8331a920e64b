import type { PlanVersion } from "@/api/client";

/** How a task of the version shown differs from the version before it. */
export type PlanMark = "added" | "removed" | "changed";

export interface VersionTask {
  key: string;
  title: string;
  tool: string;
  depends_on: readonly string[];
}

export interface VersionGraph {
  tasks: VersionTask[];
  marks: Record<string, PlanMark>;
}

export const MARK_LABELS: Record<PlanMark, string> = { added: "New", removed: "Removed", changed: "Changed" };

/**
 * The graph of plan version `version` with its diff drawn on it: the version's tasks (added and
 * changed ones marked), then the tasks it removed, taken from the version before and marked removed
 * (their arrows are kept where both ends are still drawn). Unknown version: no tasks.
 */
export function versionGraph(versions: readonly PlanVersion[], version: number): VersionGraph {
  const index = versions.findIndex((v) => v.version === version);
  const current = versions[index];
  if (!current) return { tasks: [], marks: {} };
  const marks: Record<string, PlanMark> = {};
  const diff = current.diff;
  if (!diff) return { tasks: [...current.tasks], marks };
  for (const key of diff.added) marks[key] = "added";
  for (const change of diff.changed) marks[change.key] = "changed";
  const removed = new Set(diff.removed);
  const before = versions[index - 1]?.tasks ?? [];
  const ghosts = before.filter((t) => removed.has(t.key));
  for (const task of ghosts) marks[task.key] = "removed";
  return { tasks: [...current.tasks, ...ghosts], marks };
}

/** What a version picker says of a version: "v2 (llm): task 'x' failed: ..." */
export function versionLabel(version: PlanVersion): string {
  const why = version.reason ? `: ${version.reason}` : "";
  return `v${version.version} (${version.planner})${why}`;
}
