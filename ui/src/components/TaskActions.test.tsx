import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Task } from "@/api/client";
import tasks from "@/test/fixture-tasks.json";
import { SignedIn } from "@/test/signedIn";
import { ApprovalBox, RetryBox, canRetry } from "./TaskActions";

const task = { ...tasks[1], status: "failed", error: "rejected" } as Task;

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  const calls: Request[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      calls.push(request);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
    }),
  );
  return calls;
}

const waiting = { ...tasks[1], status: "awaiting_approval" } as Task;

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
    // A body-less action still sends JSON: the API refuses other content types on state changes.
    expect(calls[0]?.headers.get("Content-Type")).toBe("application/json");
    expect(await calls[0]?.text()).toBe("{}");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("says when to try again after a 429", async () => {
    respond(429, { error: { code: "rate_limited", message: "too many requests", details: null } }, { "Retry-After": "7" });
    render(<RetryBox task={task} status="failed" jobStatus="failed" onRetried={() => undefined} />);
    fireEvent.click(screen.getByRole("button", { name: "Retry task" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Too many requests: retry after 7 seconds.");
  });

  it("is disabled, saying why, for a key without jobs:write", () => {
    const calls = respond(200, {});
    render(
      <SignedIn scopes={["jobs:read"]}>
        <RetryBox task={task} status="failed" jobStatus="failed" onRetried={() => undefined} />
      </SignedIn>,
    );
    const button = screen.getByRole("button", { name: "Retry task" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toBe("This key (viewer) lacks the scope jobs:write.");
    fireEvent.click(button);
    expect(calls).toHaveLength(0);
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

describe("ApprovalBox", () => {
  it("sends the answer as JSON and names the missing scope when the API answers 403", async () => {
    const message = "this key lacks the scope approvals:write";
    const calls = respond(403, { error: { code: "forbidden", message, details: null } });
    render(<ApprovalBox task={waiting} onChanged={() => undefined} />);
    fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe(`Not allowed: ${message}`);
    expect(calls.map((r) => [r.method, r.url, r.headers.get("Content-Type")])).toEqual([
      ["POST", `http://api.test/tasks/${waiting.id}/approve`, "application/json"],
    ]);
    expect(await calls[0]?.json()).toEqual({ comment: "" });
  });

  it("cannot approve or reject without approvals:write, and says so", () => {
    render(
      <SignedIn scopes={["jobs:read", "jobs:write"]}>
        <ApprovalBox task={waiting} onChanged={() => undefined} />
      </SignedIn>,
    );
    for (const name of ["Approve", "Reject"]) {
      const button = screen.getByRole("button", { name }) as HTMLButtonElement;
      expect(button.disabled).toBe(true);
      expect(button.title).toBe("This key (viewer) lacks the scope approvals:write.");
    }
    expect(screen.getByText(/Approving or rejecting needs a key with it/)).toBeTruthy();
  });

  it("is enabled for a key with approvals:write", () => {
    render(
      <SignedIn scopes={["jobs:read", "approvals:write"]}>
        <ApprovalBox task={waiting} onChanged={() => undefined} />
      </SignedIn>,
    );
    expect((screen.getByRole("button", { name: "Approve" }) as HTMLButtonElement).disabled).toBe(false);
  });
});
