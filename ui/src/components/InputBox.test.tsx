import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Task } from "@/api/client";
import tasks from "@/test/fixture-tasks.json";
import { InputBox, questionOf } from "./InputBox";
import { ApprovalBox } from "./TaskActions";

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

function asking(args: Record<string, unknown>): Task {
  return { ...tasks[0], tool: "ask_human", status: "awaiting_input", args } as Task;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("InputBox", () => {
  it("shows the question and sends the choice clicked", async () => {
    const task = asking({ question: "Which language?", choices: ["Python", "Go"] });
    const calls = respond(200, { ...task, status: "succeeded" });
    const onChanged = vi.fn();
    render(<InputBox task={task} question={questionOf(task)} onChanged={onChanged} />);
    expect(screen.getByTestId("question").textContent).toBe("Which language?");
    fireEvent.click(screen.getByRole("button", { name: "Go" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(calls.map((r) => [r.method, r.url])).toEqual([["POST", `http://api.test/tasks/${task.id}/input`]]);
    expect(await calls[0]?.json()).toEqual({ answer: "Go" });
  });

  it("builds fields from a flat object schema and shows the API's 422 message", async () => {
    const schema = {
      type: "object",
      properties: { city: { type: "string" }, nights: { type: "integer", minimum: 1 } },
      required: ["city", "nights"],
    };
    const task = asking({ question: "Where to?", schema });
    const message = "answer.nights: 0 is less than the minimum of 1";
    const calls = respond(422, { error: { code: "answer_invalid", message, details: null } });
    render(<InputBox task={task} question={questionOf(task)} onChanged={() => undefined} />);
    fireEvent.change(screen.getByLabelText("city"), { target: { value: "Lyon" } });
    fireEvent.click(screen.getByRole("button", { name: "Send answer" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Fill in nights.");
    expect(calls).toHaveLength(0); // checked before sending
    fireEvent.change(screen.getByLabelText("nights"), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Send answer" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe(`The answer does not fit: ${message}`));
    expect(await calls[0]?.json()).toEqual({ answer: { city: "Lyon", nights: 0 } });
  });

  it("takes other schemas as JSON, checked before sending", async () => {
    const task = asking({ question: "Which tags?", schema: { type: "array", items: { type: "string" } } });
    const calls = respond(200, task);
    render(<InputBox task={task} question={questionOf(task)} onChanged={() => undefined} />);
    const area = screen.getByLabelText("Answer (JSON)");
    fireEvent.change(area, { target: { value: '["a",' } });
    fireEvent.click(screen.getByRole("button", { name: "Send answer" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/^The answer is not valid JSON/);
    fireEvent.change(area, { target: { value: '["a", "b"]' } });
    fireEvent.click(screen.getByRole("button", { name: "Send answer" }));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(await calls[0]?.json()).toEqual({ answer: ["a", "b"] });
  });

  it("prefers the question its event carries (references resolved)", () => {
    const task = asking({ question: { $from: "x.output.text" } });
    expect(questionOf(task, { question: "Resolved?", schema: null, choices: null }).question).toBe("Resolved?");
  });
});

describe("ApprovalBox with changed arguments", () => {
  const waiting = { ...tasks[1], status: "awaiting_approval", args: { name: "draft.md" } } as Task;

  it("sends the edited args, and refuses text that is not a JSON object", async () => {
    const calls = respond(200, waiting);
    const onChanged = vi.fn();
    render(<ApprovalBox task={waiting} onChanged={onChanged} />);
    const area = screen.getByLabelText("Arguments (JSON)") as HTMLTextAreaElement;
    expect(JSON.parse(area.value)).toEqual({ name: "draft.md" });
    fireEvent.change(area, { target: { value: "[]" } });
    fireEvent.click(screen.getByRole("button", { name: "Approve with these arguments" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The arguments must be a JSON object ({...}).");
    fireEvent.change(area, { target: { value: '{"name": "final.md"}' } });
    fireEvent.click(screen.getByRole("button", { name: "Approve with these arguments" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(await calls[0]?.json()).toEqual({ comment: "", args: { name: "final.md" } });
  });

  it("shows the policy's refusal", async () => {
    const message = "the edited args break the policy (environments.prod.tools.http_fetch.allowed_domains): no";
    respond(422, { error: { code: "policy_refused", message, details: { rule: "x" } } });
    render(<ApprovalBox task={waiting} onChanged={() => undefined} />);
    fireEvent.change(screen.getByLabelText("Arguments (JSON)"), { target: { value: '{"name": "x.md"}' } });
    fireEvent.click(screen.getByRole("button", { name: "Approve with these arguments" }));
    expect((await screen.findByRole("alert")).textContent).toBe(`The policy refuses these arguments: ${message}`);
  });
});
