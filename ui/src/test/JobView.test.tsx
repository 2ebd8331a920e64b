import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { JobView } from "@/components/JobView";
import artifacts from "./fixture-artifacts.json";
import job from "./fixture-job.json";
import tasks from "./fixture-tasks.json";

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
  emit(id: number, type: string, data: Record<string, unknown>) {
    const payload = { job_id: JOB_ID, type, task_id: null, data, id, created_at: "2026-11-24T22:06:43.452995Z" };
    const event = new MessageEvent(type, { data: JSON.stringify(payload), lastEventId: String(id) });
    this.listeners.get(type)?.(event);
  }
}

function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      expect(url.origin).toBe("http://api.test");
      if (url.pathname === `/jobs/${JOB_ID}`) return jsonResponse(job);
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
    expect(FakeEventSource.instances[0]?.url).toBe(`http://api.test/jobs/${JOB_ID}/events`);

    // The graph starts from the stored task statuses, then follows the live events.
    const node = await screen.findByTestId("node-create_checklist");
    expect(node.dataset.status).toBe("succeeded");
    const source = FakeEventSource.instances[0];
    if (!source) throw new Error("no EventSource");
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
    expect(screen.getByRole("status").textContent).toBe("Finished");
    expect(source.closed).toBe(true);
    expect(screen.getByRole("button", { name: "Cancel job" })).toHaveProperty("disabled", true);

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
    const download = screen.getByRole("link", { name: "Download" });
    expect(download.getAttribute("href")).toBe(`http://api.test${artifacts[0]?.content_url}`);
  });

  it("says in words when the job does not exist", async () => {
    render(<JobView jobId="00000000-0000-0000-0000-000000000000" />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Not found: no route /jobs/00000000-0000-0000-0000-000000000000");
  });
});
