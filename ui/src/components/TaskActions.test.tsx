import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Task } from "@/api/client";
import tasks from "@/test/fixture-tasks.json";
import { RetryBox, canRetry } from "./TaskActions";

const task = { ...tasks[1], status: "failed", error: "rejected" } as Task;

function respond(status: number, body: unknown) {
  const calls: Request[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      calls.push(request);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    }),
  );
  return calls;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("canRetry", () => {
  it("allows a failed or blocked task of a running or failed job", () => {
    expect(canRetry("failed", "failed")).toBe(true);
    expect(canRetry("blocked", "running")).toBe(true);
    expect(canRetry("skipped", "failed")).toBe(false);
    expect(canRetry("succeeded", "running")).toBe(false);
    expect(canRetry("failed", "cancelled")).toBe(false);
    expect(canRetry("failed", "succeeded")).toBe(false);
  });
});

describe("RetryBox", () => {
  it("posts the retry and reports success", async () => {
    const calls = respond(200, { ...task, status: "pending", attempt: 2 });
    const onRetried = vi.fn();
    render(<RetryBox task={task} status="failed" jobStatus="failed" onRetried={onRetried} />);
    expect(screen.getByTestId("retry-box").textContent).toContain("the job reopens");
    fireEvent.click(screen.getByRole("button", { name: "Retry task" }));
    await waitFor(() => expect(onRetried).toHaveBeenCalledTimes(1));
    expect(calls.map((r) => [r.method, r.url])).toEqual([["POST", `http://api.test/tasks/${task.id}/retry`]]);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("says why the API refused (409) and keeps the message visible", async () => {
    const message = `task ${task.id} is succeeded; only a failed or blocked task can be retried`;
    respond(409, { error: { code: "invalid_transition", message, details: null } });
    const onRetried = vi.fn();
    render(<RetryBox task={task} status="blocked" jobStatus="running" onRetried={onRetried} />);
    expect(screen.getByTestId("retry-box").textContent).toContain("asks the policy again");
    fireEvent.click(screen.getByRole("button", { name: "Retry task" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe(`Not possible right now: ${message}`);
    expect(onRetried).not.toHaveBeenCalled();
  });

  it("shows nothing for a task that cannot be retried", () => {
    render(<RetryBox task={task} status="succeeded" jobStatus="succeeded" onRetried={() => undefined} />);
    expect(screen.queryByRole("button", { name: "Retry task" })).toBeNull();
  });
});
