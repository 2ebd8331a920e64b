import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { JobView } from "@/components/JobView";
import artifacts from "./fixture-artifacts.json";
import job from "./fixture-job.json";
import tasks from "./fixture-tasks.json";
import { stubResizeObserver } from "./stubs";

/** Recorded from a real `planwright up` run of the demo goal. */
const JOB_ID = job.id;
const UNSAFE_MARKDOWN =
  "# Implementation checklist\n\n- [ ] Define the ToolSpec <script>window.pwned = 1</script>\n" +
  '<img src="https://evil.example/a.png" onerror="window.pwned = 2">\n\n![remote](https://evil.example/b.png)\n';

class FakeEventSource {
  static instances: FakeEventSource[] = [];
  url: string;
  onopen: (() => void) | null = null;
  onmessage: ((e: MessageEvent<string>) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  private listeners = new Map<string, (e: MessageEvent<string>) => void>();
  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (e: MessageEvent<string>) => void) {
    this.listeners.set(type, fn);
  }
  close() {
    this.closed = true;
  }
  /** A message without an id, e.g. on /jobs/changes. */
  emitRaw(type: string, data: unknown) {
    this.listeners.get(type)?.(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  emit(id: number, type: string, data: Record<string, unknown>) {
    const payload = { job_id: JOB_ID, type, task_id: null, data, id, created_at: "2026-11-24T22:06:43.452995Z" };
    const event = new MessageEvent(type, { data: JSON.stringify(payload), lastEventId: String(id) });
    this.listeners.get(type)?.(event);
  }
}

/** The job's event stream, resumed after `after` when given. */
function eventsSource(after?: number): FakeEventSource {
  const url = `http://api.test/jobs/${JOB_ID}/events${after === undefined ? "" : `?after=${after}`}`;
  const source = FakeEventSource.instances.find((s) => s.url === url);
  if (!source) throw new Error(`no EventSource for ${url}`);
  return source;
}

/** How many times the page has read the job (GET /jobs/{id}). */
function jobReads(): number {
  return vi
    .mocked(fetch)
    .mock.calls.filter(([input]) => new URL(input instanceof Request ? input.url : String(input)).pathname === `/jobs/${JOB_ID}`)
    .length;
}

function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

let currentJob: typeof job = job;

beforeEach(() => {
  currentJob = job;
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  stubResizeObserver();
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      expect(url.origin).toBe("http://api.test");
      if (url.pathname === `/jobs/${JOB_ID}`) return jsonResponse(currentJob);
      if (url.pathname === `/jobs/${JOB_ID}/tasks`) return jsonResponse(tasks);
      if (url.pathname === `/jobs/${JOB_ID}/artifacts`) return jsonResponse(artifacts);
      if (url.pathname === artifacts[0]?.content_url) {
        return new Response(UNSAFE_MARKDOWN, { headers: { "Content-Type": "text/markdown" } });
      }
      return jsonResponse({ error: { code: "not_found", message: `no route ${url.pathname}`, details: null } }, 404);
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("JobView", () => {
  it("shows the plan, live statuses, task details and the artifact as safe markdown", async () => {
    render(<JobView jobId={JOB_ID} />);
    await screen.findByText(job.goal);
    expect(FakeEventSource.instances.map((s) => s.url)).toEqual([`http://api.test/jobs/${JOB_ID}/events`]);

    // The graph starts from the stored task statuses, then follows the live events.
    const node = await screen.findByTestId("node-create_checklist");
    expect(node.dataset.status).toBe("succeeded");
    const source = eventsSource();
    act(() => {
      source.onopen?.();
      source.emit(7, "task.running", { key: "create_checklist", attempt: 1 });
    });
    expect(screen.getByTestId("node-create_checklist").dataset.status).toBe("running");
    expect(screen.getByRole("status").textContent).toBe("Live");
    act(() => {
      source.emit(10, "task.succeeded", { key: "create_checklist", attempt: 1 });
      source.emit(21, "job.succeeded", {});
    });
    expect(screen.getByTestId("node-create_checklist").dataset.status).toBe("succeeded");
    expect(screen.getByRole("status").textContent).toBe("Live"); // until the server closes the stream
    act(() => source.onerror?.());
    expect(screen.getByRole("status").textContent).toBe("Finished");
    expect(source.closed).toBe(true);
    expect(screen.queryByRole("button", { name: "Cancel job" })).toBeNull(); // finished: nothing to cancel

    // Task panel from the table (keyboard path: a real button).
    fireEvent.click(screen.getByRole("button", { name: "Write artifact" }));
    const panel = screen.getByTestId("task-panel");
    expect(within(panel).getByText("file_write_artifact")).toBeTruthy();
    expect(within(panel).getByLabelText("Arguments").textContent).toContain('"name": "tools.md"');

    // Artifact viewer: markdown rendered, no raw HTML, no images fetched.
    fireEvent.click(screen.getByRole("button", { name: "tools.md" }));
    const viewer = await screen.findByTestId("artifact-viewer");
    await waitFor(() => expect(within(viewer).getByRole("heading", { name: "Implementation checklist" })).toBeTruthy());
    expect(viewer.querySelector("script, img, iframe")).toBeNull();
    expect(viewer.textContent).toContain("[image: remote]");
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
    for (const download of screen.getAllByRole("link", { name: "Download tools.md" })) {
      expect(download.getAttribute("href")).toBe(`http://api.test${artifacts[0]?.content_url}`);
    }
  });

  it("puts the result first: its text as markdown, each artifact previewed, mock badges", async () => {
    render(<JobView jobId={JOB_ID} />);
    const result = await screen.findByRole("region", { name: "Result" });
    const sections = [...document.querySelectorAll("section")].map((s) => s.getAttribute("aria-label"));
    expect(sections[0]).toBe("Result");
    const text = within(result).getByTestId("result-text");
    expect(text.querySelector("code")?.textContent).toBe("ToolSpec"); // markdown rendered, not backticks
    expect(text.textContent).not.toContain("`");
    expect(within(result).getByTestId("result-mock").textContent).toContain("mock model");
    expect(screen.getByTestId("job-mock").textContent).toContain("mock model");

    const card = within(result).getByRole("article", { name: "Artifact tools.md" });
    expect(card.textContent).toContain("text/markdown");
    const preview = await within(card).findByTestId("result-artifact-content");
    await waitFor(() => expect(within(preview).getByRole("heading", { name: "Implementation checklist" })).toBeTruthy());
    expect(preview.querySelector("script, img, iframe")).toBeNull();
    expect(within(card).getByRole("link", { name: "Download tools.md" }).getAttribute("download")).toBe("tools.md");
  });

  it("offers Cancel only while the job runs", async () => {
    currentJob = { ...job, status: "running", finished_at: null, result: null } as unknown as typeof job;
    render(<JobView jobId={JOB_ID} />);
    const cancel = await screen.findByRole("button", { name: "Cancel job" });
    expect(cancel).toHaveProperty("disabled", false);
    expect(screen.queryByRole("region", { name: "Result" })).toBeNull();
    const source = eventsSource();
    act(() => {
      source.onopen?.();
      source.emit(21, "job.succeeded", {});
    });
    expect(screen.queryByRole("button", { name: "Cancel job" })).toBeNull();
  });

  it("links the job to its trace in Jaeger when the API gives a trace URL, and shows no trace otherwise", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const traced = { ...job, trace_id: traceId, trace_url: `http://jaeger.test:16686/trace/${traceId}` };
    currentJob = traced as unknown as typeof job;
    render(<JobView jobId={JOB_ID} />);
    const link = await screen.findByRole("link", { name: /Open in Jaeger/ });
    expect(link.getAttribute("href")).toBe(`http://jaeger.test:16686/trace/${traceId}`);
    expect(link.getAttribute("rel")).toContain("noopener");
    cleanup();

    currentJob = { ...traced, trace_url: null } as unknown as typeof job;
    render(<JobView jobId={JOB_ID} />);
    expect((await screen.findByTestId("job-trace")).textContent).toBe(traceId);
    expect(screen.queryByRole("link", { name: /Open in Jaeger/ })).toBeNull();
    cleanup();

    currentJob = job; // tracing was off: no trace row at all
    render(<JobView jobId={JOB_ID} />);
    await screen.findByText(job.goal);
    expect(screen.queryByTestId("job-trace")).toBeNull();
  });

  it("retries a failed task: calls the API, then follows the reopened job from the last event", async () => {
    const failedJob = { ...job, status: "failed", error: "task 'write_artifact' failed: rejected: wrong name" };
    const failedTasks = tasks.map((t) =>
      t.key === "write_artifact"
        ? { ...t, status: "failed", error: "rejected: wrong name" }
        : t.key === "summarize_artifact"
          ? { ...t, status: "skipped" }
          : t,
    );
    const writeId = failedTasks[1]?.id;
    const posted: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL) => {
        const request = input instanceof Request ? input : new Request(String(input));
        const url = new URL(request.url);
        if (request.method === "POST") {
          posted.push(url.pathname);
          return jsonResponse({ ...failedTasks[1], status: "pending", attempt: 2, error: null });
        }
        if (url.pathname === `/jobs/${JOB_ID}`) return jsonResponse(failedJob);
        if (url.pathname === `/jobs/${JOB_ID}/tasks`) return jsonResponse(failedTasks);
        return jsonResponse([]);
      }),
    );
    render(<JobView jobId={JOB_ID} />);
    await screen.findByText(failedJob.error);
    const first = eventsSource();
    act(() => {
      first.onopen?.();
      first.emit(30, "job.failed", { error: failedJob.error });
      first.onerror?.();
    });
    expect(screen.getByRole("status").textContent).toBe("Finished");

    fireEvent.click(screen.getByRole("button", { name: "Write artifact" }));
    fireEvent.click(within(screen.getByTestId("task-panel")).getByRole("button", { name: "Retry task" }));
    await waitFor(() => expect(posted).toEqual([`/tasks/${writeId}/retry`]));

    // Following again from the last event it has, keeping the events it already shows.
    const again = await waitFor(() => eventsSource(30));
    act(() => {
      again.onopen?.();
      again.emit(30, "job.failed", { error: failedJob.error });
      again.emit(31, "task.pending", { key: "write_artifact", attempt: 2, reason: "retried" });
      again.emit(32, "task.pending", { key: "summarize_artifact", attempt: 1, reason: "reopened" });
      again.emit(33, "job.running", { retried: "write_artifact" });
    });
    expect(screen.getByRole("status").textContent).toBe("Live");
    expect(screen.getByTestId("node-write_artifact").dataset.status).toBe("pending");
    expect(screen.getByTestId("node-summarize_artifact").dataset.status).toBe("pending");
    expect(screen.getByTestId("job-status").querySelector("[data-status]")?.getAttribute("data-status")).toBe("running");
    expect(screen.queryByRole("button", { name: "Retry task" })).toBeNull();
    expect(screen.getByRole("list", { name: "Event timeline" }).querySelectorAll("li")).toHaveLength(4);
  });

  it("after its stream ended holds no connection, and follows the job again when shown again and reopened", async () => {
    render(<JobView jobId={JOB_ID} />);
    await screen.findByText(job.goal);
    const first = eventsSource();
    act(() => {
      first.onopen?.();
      first.emit(21, "job.succeeded", {});
    });
    const before = jobReads();
    act(() => first.onerror?.());
    expect(screen.getByRole("status").textContent).toBe("Finished");
    await waitFor(() => expect(jobReads()).toBe(before + 1)); // read once more after the end
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(FakeEventSource.instances.every((s) => s.closed)).toBe(true); // nothing held open

    // Retried elsewhere (another tab, `planwright retry`): seen when someone comes back to the page.
    currentJob = { ...job, status: "running", updated_at: "2026-12-06T12:09:00Z" };
    act(() => void document.dispatchEvent(new Event("visibilitychange")));
    await waitFor(() => expect(eventsSource(21).closed).toBe(false));
    expect(screen.getByRole("status").textContent).toBe("Connecting…");
  });

  it("reads a finished job again every 30 s while the page is visible, and follows it if it runs again", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      render(<JobView jobId={JOB_ID} />);
      await screen.findByText(job.goal);
      const first = eventsSource();
      act(() => {
        first.onopen?.();
        first.emit(21, "job.failed", { error: "x" });
        first.onerror?.();
      });
      await act(async () => vi.advanceTimersByTime(1000)); // the reload after the stream ended
      const before = jobReads();
      currentJob = { ...job, status: "running", updated_at: "2026-12-06T12:09:00Z" };
      await act(async () => vi.advanceTimersByTime(30_000));
      expect(jobReads()).toBe(before + 1);
      await waitFor(() => expect(eventsSource(21).closed).toBe(false));
    } finally {
      vi.useRealTimers();
    }
  });

  it("says in words when the job does not exist", async () => {
    render(<JobView jobId="00000000-0000-0000-0000-000000000000" />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Not found: no route /jobs/00000000-0000-0000-0000-000000000000");
  });
});
