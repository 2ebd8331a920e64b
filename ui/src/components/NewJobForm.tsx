"use client";

import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
import { useCreateJob } from "@/hooks/useJobs";
import { useMissingScope } from "@/hooks/useSession";
import { ErrorNote } from "./Common";

export const DEMO_GOAL =
  "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an artifact, then summarize it.";

const GOAL_LIMIT = 10_000;

/** Parses the context editor: a JSON object, or a sentence saying what is wrong. */
export function parseContext(text: string): { value: Record<string, unknown> } | { error: string } {
  if (text.trim() === "") return { value: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (thrown) {
    return { error: `Context is not valid JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}` };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    const kind = Array.isArray(parsed) ? "a list" : parsed === null ? "null" : `a ${typeof parsed}`;
    return { error: `Context must be a JSON object like {"key": "value"}, not ${kind}.` };
  }
  return { value: parsed as Record<string, unknown> };
}

export function NewJobForm() {
  const id = useId();
  const router = useRouter();
  const { create, submitting, error } = useCreateJob();
  const denied = useMissingScope("jobs:write");
  const [goal, setGoal] = useState("");
  const [context, setContext] = useState("{}");
  const [priority, setPriority] = useState(1);
  const [contextError, setContextError] = useState<string | null>(null);
  const [goalError, setGoalError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (denied) return;
    const trimmed = goal.trim();
    const goalProblem =
      trimmed === ""
        ? "Write a goal first."
        : trimmed.length > GOAL_LIMIT
          ? `The goal is ${trimmed.length} characters; the limit is ${GOAL_LIMIT}.`
          : null;
    const parsed = parseContext(context);
    setGoalError(goalProblem);
    setContextError("error" in parsed ? parsed.error : null);
    if (goalProblem || "error" in parsed) return;
    const job = await create({ goal: trimmed, context_json: parsed.value, priority });
    if (job) router.push(`/job/?id=${encodeURIComponent(job.id)}`);
  }

  return (
    <form onSubmit={onSubmit} noValidate aria-label="New job">
      <label htmlFor={`${id}-goal`}>Goal</label>
      <textarea
        id={`${id}-goal`}
        name="goal"
        rows={4}
        value={goal}
        onChange={(e) => setGoal(e.target.value)}
        aria-invalid={goalError ? true : undefined}
        aria-describedby={`${id}-goal-hint`}
        placeholder="What should Planwright do?"
      />
      <p id={`${id}-goal-hint`} className={goalError ? "field-error" : "hint"}>
        {goalError ?? `${goal.trim().length} / ${GOAL_LIMIT} characters`}
      </p>
      <div className="row">
        <button type="button" onClick={() => setGoal(DEMO_GOAL)}>
          Use the demo goal
        </button>
      </div>

      <label htmlFor={`${id}-context`}>Context (JSON object)</label>
      <textarea
        id={`${id}-context`}
        name="context_json"
        className="code"
        rows={3}
        value={context}
        onChange={(e) => {
          setContext(e.target.value);
          if (contextError) setContextError(null);
        }}
        onBlur={() => {
          const parsed = parseContext(context);
          setContextError("error" in parsed ? parsed.error : null);
        }}
        aria-invalid={contextError ? true : undefined}
        aria-describedby={`${id}-context-hint`}
        spellCheck={false}
      />
      <p id={`${id}-context-hint`} className={contextError ? "field-error" : "hint"}>
        {contextError ?? "Optional extra facts for the planner, e.g. {\"audience\": \"developers\"}."}
      </p>

      <label htmlFor={`${id}-priority`}>Priority (0–9, higher runs first)</label>
      <input
        id={`${id}-priority`}
        name="priority"
        type="number"
        min={0}
        max={9}
        step={1}
        value={priority}
        onChange={(e) => setPriority(Math.max(0, Math.min(9, Math.round(Number(e.target.value) || 0))))}
        style={{ maxWidth: "6rem" }}
      />

      <ErrorNote message={error} />
      {denied ? <p className="hint">{denied} Submitting jobs needs a key with it.</p> : null}
      <div className="row">
        <button type="submit" className="primary" disabled={submitting || denied !== null} title={denied ?? undefined}>
          {submitting ? "Submitting…" : "Submit job"}
        </button>
      </div>
    </form>
  );
}
