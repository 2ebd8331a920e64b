"use client";

import type { Task, TaskStatus } from "@/api/client";
import { noOutputNote } from "@/lib/wording";
import { JsonBlock } from "./Common";
import { MockBadge } from "./Mock";
import { SafeMarkdown } from "./SafeMarkdown";

/** The output's text (markdown or plain text), when it has one. */
export function outputText(output: Task["output"]): string | null {
  const text = output?.["text"];
  return typeof text === "string" && text.trim() !== "" ? text : null;
}

/**
 * A task's output: its text rendered as markdown (safely) when it has one, with the whole output as
 * JSON one click away; an output without text as JSON. "mock model" when the mock model wrote it.
 * While the task runs, `streamed` (the model's text so far, lib/streaming.ts) shows it growing, as
 * plain text, until the final output replaces it.
 */
export function TaskOutput({ task, status, streamed = null }: { task: Task; status: TaskStatus; streamed?: string | null }) {
  const output = task.output;
  const mock = (task.usage?.mock_calls ?? 0) > 0;
  const text = outputText(output);
  const growing = streamed !== null && (status === "running" || !output);
  return (
    <>
      <div className="card-head" style={{ margin: "1rem 0 0.4rem" }}>
        <h3 style={{ margin: 0 }}>Output</h3>
        {mock && output ? <MockBadge testId="output-mock" what="This output" /> : null}
      </div>
      {growing ? (
        <div className="task-output" aria-live="polite" aria-busy={status === "running"}>
          <p className="muted">The model is writing (its text as it streams; the final output replaces it):</p>
          <pre className="text" data-testid="output-streaming">
            {streamed}
          </pre>
        </div>
      ) : !output ? (
        <p className="muted">{noOutputNote(status)}</p>
      ) : text === null ? (
        <JsonBlock value={output} label="Output" />
      ) : (
        <div className="task-output">
          <SafeMarkdown text={text} testId="output-text" />
          <details className="raw">
            <summary>Raw JSON</summary>
            <JsonBlock value={output} label="Output" />
          </details>
        </div>
      )}
    </>
  );
}
