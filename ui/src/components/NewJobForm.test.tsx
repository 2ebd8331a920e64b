import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SignedIn } from "@/test/signedIn";
import { DEMO_GOAL, NewJobForm, parseContext } from "./NewJobForm";

const push = vi.fn();
vi.mock("next/navigation", () => ({ useRouter: () => ({ push }) }));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  push.mockReset();
});

describe("parseContext", () => {
  it("accepts objects and explains everything else", () => {
    expect(parseContext("")).toEqual({ value: {} });
    expect(parseContext('{"a": 1}')).toEqual({ value: { a: 1 } });
    expect(parseContext("[]")).toEqual({ error: 'Context must be a JSON object like {"key": "value"}, not a list.' });
    expect(parseContext("{oops")).toHaveProperty("error");
  });
});

describe("NewJobForm", () => {
  it("does not submit invalid context, then submits the demo goal and opens the job", async () => {
    const fetchMock = vi.fn(async (request: Request) => {
      const body = (await request.json()) as Record<string, unknown>;
      expect(body).toEqual({ goal: DEMO_GOAL, context_json: { audience: "devs" }, priority: 1 });
      return new Response(JSON.stringify({ id: "202de8da-86cf-4abf-adae-e8a2617f7ae8" }), {
        status: 201,
        headers: { "Content-Type": "application/json" },
      });
    });
    vi.stubGlobal("fetch", fetchMock);
    render(<NewJobForm />);
    fireEvent.click(screen.getByRole("button", { name: "Use the demo goal" }));
    expect((screen.getByLabelText("Goal") as HTMLTextAreaElement).value).toBe(DEMO_GOAL);

    fireEvent.change(screen.getByLabelText("Context (JSON object)"), { target: { value: "[1, 2]" } });
    fireEvent.click(screen.getByRole("button", { name: "Submit job" }));
    expect(await screen.findByText(/not a list/)).toBeTruthy();
    expect(fetchMock).not.toHaveBeenCalled();

    fireEvent.change(screen.getByLabelText("Context (JSON object)"), { target: { value: '{"audience": "devs"}' } });
    fireEvent.click(screen.getByRole("button", { name: "Submit job" }));
    await waitFor(() => expect(push).toHaveBeenCalledWith("/job/?id=202de8da-86cf-4abf-adae-e8a2617f7ae8"));
  });

  it("shows the API's validation message", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        new Response(
          JSON.stringify({
            error: {
              code: "validation_error",
              message: "goal: goal is 10001 characters; the limit is 10000",
              details: [{ field: "goal", message: "goal is 10001 characters; the limit is 10000" }],
            },
          }),
          { status: 422, headers: { "Content-Type": "application/json" } },
        ),
      ),
    );
    render(<NewJobForm />);
    fireEvent.change(screen.getByLabelText("Goal"), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Submit job" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Please check the form: goal: goal is 10001 characters; the limit is 10000");
    expect(push).not.toHaveBeenCalled();
  });

  it("cannot submit with a key that lacks jobs:write, and says so", () => {
    const fetchMock = vi.fn();
    vi.stubGlobal("fetch", fetchMock);
    render(
      <SignedIn scopes={["jobs:read"]}>
        <NewJobForm />
      </SignedIn>,
    );
    fireEvent.click(screen.getByRole("button", { name: "Use the demo goal" }));
    const submit = screen.getByRole("button", { name: "Submit job" }) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    expect(submit.title).toBe("This key (viewer) lacks the scope jobs:write.");
    fireEvent.submit(screen.getByRole("form", { name: "New job" }));
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
