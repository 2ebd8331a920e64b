import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Task } from "@/api/client";
import type { JobEvent } from "@/hooks/useJobEvents";
import tasks from "@/test/fixture-tasks.json";
import { summarizeEvent } from "./EventTimeline";
import { TaskPanel } from "./TaskPanel";

const at = "2026-11-24T22:06:43Z";
const decided = {
  ...tasks[1],
  attempt: 2,
  policy_decisions: [
    { attempt: 1, decision: "needs_approval", rule: "require_approval", reason: "a person approves", created_at: at, decided_by: null },
    { attempt: 1, decision: "rejected", rule: "human", reason: "wrong file name", created_at: at, decided_by: "alice" },
    { attempt: 2, decision: "approved", rule: "human", reason: "approved", created_at: at, decided_by: "ci" },
    { attempt: 2, decision: "approved", rule: "human", reason: "approved", created_at: at }, // an older API: no field
  ],
} as Task;

afterEach(cleanup);

describe("policy decisions", () => {
  it("say who approved or rejected, and which rule decided otherwise", () => {
    render(
      <TaskPanel
        task={decided}
        liveStatus="succeeded"
        jobStatus="succeeded"
        events={[]}
        onChanged={() => undefined}
        onRetried={() => undefined}
      />,
    );
    const items = [...screen.getByTestId("policy-decisions").querySelectorAll(":scope > li")].map((li) => li.textContent);
    expect(items).toEqual([
      "needs_approval (attempt 1) by require_approvala person approves",
      "rejected by alice (attempt 1)wrong file name",
      "approved by ci (attempt 2)approved",
      "approved (attempt 2) by humanapproved",
    ]);
  });

  it("name the person in the event timeline too", () => {
    const event = (data: Record<string, unknown>): JobEvent => ({
      id: 1,
      job_id: "j",
      type: "policy.decision",
      task_id: "t",
      data: { key: "write_artifact", attempt: 1, ...data },
      created_at: at,
    });
    expect(summarizeEvent(event({ decision: "approved", rule: "human", reason: "ok", decided_by: "ci" }))).toBe(
      "write_artifact #1 · approved by ci: ok",
    );
    expect(summarizeEvent(event({ decision: "allow", rule: "allowed_tools", reason: "listed", decided_by: null }))).toBe(
      "write_artifact #1 · allow by allowed_tools: listed",
    );
  });
});
