import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Task } from "@/api/client";
import tasks from "@/test/fixture-tasks.json";
import { CriticVerdicts } from "./CriticVerdicts";
import { TaskOutput } from "./TaskOutput";

const checklist = tasks[0] as Task; // text_generate, written by the mock model
const write = tasks[1] as Task; // file_write_artifact: no text, no model call

afterEach(cleanup);

describe("TaskOutput", () => {
  it("renders the output's text as markdown, with the whole output as raw JSON behind a toggle", () => {
    render(<TaskOutput task={checklist} status="succeeded" />);
    const text = screen.getByTestId("output-text");
    expect(within(text).getByRole("heading", { level: 1 }).textContent).toBe("Implementation checklist: adding a new tool");
    expect(text.textContent).not.toContain("# Implementation");
    expect(text.textContent).not.toContain("\\n");
    expect(text.querySelectorAll("li").length).toBeGreaterThan(3);

    const raw = screen.getByText("Raw JSON").closest("details");
    expect(raw?.open).toBe(false);
    fireEvent.click(screen.getByText("Raw JSON"));
    expect(within(raw as HTMLElement).getByLabelText("Output").textContent).toContain('\\n\\n# Implementation checklist'); // the raw text, escapes and all
  });

  it("marks what the mock model wrote, and only that", () => {
    render(<TaskOutput task={checklist} status="succeeded" />);
    const badge = screen.getByTestId("output-mock");
    expect(badge.textContent).toContain("mock model");
    expect(badge.textContent).toContain("LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-... make up");
    expect(badge.querySelector("summary")?.getAttribute("title")).toContain("placeholder text");
    cleanup();

    const real = { ...checklist, usage: { ...checklist.usage, mock_calls: 0 } } as Task;
    render(<TaskOutput task={real} status="succeeded" />);
    expect(screen.queryByTestId("output-mock")).toBeNull();
  });

  it("shows an output without text as JSON, and says why there is none", () => {
    render(<TaskOutput task={write} status="succeeded" />);
    expect(screen.getByLabelText("Output").textContent).toContain('"name": "tools.md"');
    expect(screen.queryByText("Raw JSON")).toBeNull();
    expect(screen.queryByTestId("output-mock")).toBeNull();
    cleanup();

    render(<TaskOutput task={{ ...write, output: null }} status="running" />);
    expect(screen.getByText("No output yet.")).toBeTruthy();
  });

  it("shows the model's text growing while the task runs, as plain text, until the output replaces it", () => {
    const running = { ...checklist, output: null } as Task;
    render(<TaskOutput task={running} status="running" streamed={"# Release <b>no"} />);
    const growing = screen.getByTestId("output-streaming");
    expect(growing.textContent).toBe("# Release <b>no");
    expect(growing.querySelector("b")).toBeNull(); // never HTML
    expect(screen.queryByTestId("output-text")).toBeNull();
    cleanup();

    render(<TaskOutput task={checklist} status="succeeded" streamed={"# Release <b>no"} />);
    expect(screen.queryByTestId("output-streaming")).toBeNull();
    expect(screen.getByTestId("output-text")).toBeTruthy();
  });
});

describe("CriticVerdicts", () => {
  it("says why a finished task has no verdict instead of 'None yet'", () => {
    render(<CriticVerdicts task={checklist} status="succeeded" />);
    expect(screen.getByTestId("critic-note").textContent).toMatch(/^No critic review: the critic is off/);
    cleanup();
    render(<CriticVerdicts task={tasks[2] as Task} status="succeeded" />);
    expect(screen.getByTestId("critic-note").textContent).toBe("Not reviewed: this task does not require the critic.");
  });

  it("lists the verdicts, and an awaited review", () => {
    const reviewed = {
      ...checklist,
      attempt: 2,
      verdicts: [{ attempt: 1, verdict: "rework", reasons: ["too short"], created_at: "2026-12-06T12:00:00Z" }],
    } as Task;
    render(<CriticVerdicts task={reviewed} status="reviewing" />);
    expect(screen.getByTestId("verdicts").textContent).toContain("rework (attempt 1)too short");
    expect(screen.getByText("Awaiting review of attempt 2.")).toBeTruthy();
  });
});
