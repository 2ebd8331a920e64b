import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Artifact, JobDetail, Task } from "@/api/client";
import job from "@/test/fixture-job.json";
import tasks from "@/test/fixture-tasks.json";
import { ResultPanel } from "./ResultPanel";

const finished = job as unknown as JobDetail;
const artifact = (name: string, media_type: string, id: string): Artifact => ({
  id,
  job_id: finished.id,
  task_id: "t",
  attempt: 1,
  name,
  sha256: "0",
  size: 40,
  media_type,
  created_at: "2026-12-06T12:00:00Z",
  content_url: `/artifacts/${id}/content`,
});
const BODIES: Record<string, string> = {
  "/artifacts/j/content": '{"rows":[1,2],"ok":true}',
  "/artifacts/h/content": "<script>window.pwned = 1</script><b>bold</b>",
  "/artifacts/t/content": "line 1\nline 2",
};

beforeEach(() => {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: Request) => new Response(BODIES[new URL(input.url).pathname] ?? "", { status: 200 })),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("ResultPanel", () => {
  it("shows nothing until the job has finished", () => {
    const { container } = render(<ResultPanel job={finished} status="running" tasks={[]} />);
    expect(container.innerHTML).toBe("");
  });

  it("previews each artifact by its type: JSON pretty-printed, HTML as source text, text as text, images as images", async () => {
    const result = {
      text: "Done.",
      tasks: [],
      artifacts: [
        artifact("data.json", "application/json", "j"),
        artifact("page.html", "text/html", "h"),
        artifact("notes.txt", "text/plain", "t"),
        artifact("chart.png", "image/png", "p"),
      ],
    };
    render(<ResultPanel job={{ ...finished, result }} status="succeeded" tasks={[]} />);
    const card = (name: string) => screen.getByRole("article", { name: `Artifact ${name}` });
    await waitFor(() => expect(within(card("data.json")).getByText(/"rows": \[/)).toBeTruthy());
    expect(within(card("data.json")).getByTestId("result-artifact-content").textContent).toBe(
      '{\n  "rows": [\n    1,\n    2\n  ],\n  "ok": true\n}',
    );
    await waitFor(() => expect(within(card("page.html")).getByText(/<script>/)).toBeTruthy());
    expect(card("page.html").querySelector("script, b")).toBeNull();
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
    await waitFor(() => expect(within(card("notes.txt")).getByText("line 1 line 2", { normalizer: (s) => s.replace(/\n/g, " ") })).toBeTruthy());
    const image = within(card("chart.png")).getByRole("img");
    expect(image.getAttribute("alt")).toBe("chart.png (image artifact)");
    expect(image.getAttribute("src")).toBe("http://api.test/artifacts/p/content");
    expect(within(card("chart.png")).getByRole("link", { name: "Download chart.png" }).getAttribute("href")).toBe(
      "http://api.test/artifacts/p/content",
    );
  });

  it("says what failed: the job's error, the failed tasks and why, the final tasks with their status", () => {
    const failedTasks = (tasks as unknown as Task[]).map((t) =>
      t.key === "write_artifact" ? { ...t, status: "failed", error: "disk full" } : t.key === "summarize_artifact" ? { ...t, status: "skipped" } : t,
    ) as Task[];
    const result = {
      text: null,
      tasks: [{ key: "summarize_artifact", title: "Summarize artifact", tool: "text_summarize", status: "skipped", output: null, text: null, mock: false }],
      artifacts: [],
    };
    const failed = { ...finished, status: "failed", error: "task 'write_artifact' failed: disk full", result } as JobDetail;
    render(<ResultPanel job={failed} status="failed" tasks={failedTasks} />);
    expect(screen.getByTestId("job-error").textContent).toBe("task 'write_artifact' failed: disk full");
    const what = screen.getByTestId("what-failed");
    expect(what.textContent).toContain("Write artifact");
    expect(what.textContent).toContain("disk full");
    expect(within(screen.getByTestId("final-tasks")).getByText("Skipped")).toBeTruthy();
    expect(screen.getByText("The job wrote no artifacts.")).toBeTruthy();
    expect(screen.queryByTestId("result-mock")).toBeNull();
  });

  it("shows the error of a job that failed before it had a plan", () => {
    const failed = { ...finished, status: "failed", error: "the planner refused", plan: null, result: null } as JobDetail;
    render(<ResultPanel job={failed} status="failed" tasks={[]} />);
    expect(screen.getByTestId("job-error").textContent).toBe("the planner refused");
  });
});
