import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SignedIn } from "@/test/signedIn";
import { PinToggle } from "./PinToggle";

const JOB = "7f0c4c39-6a53-4c1b-8a1c-3c9f2b0d5e11";

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

describe("PinToggle", () => {
  it("pins an unpinned job with a POST, then says it is done", async () => {
    const calls = respond(200, { id: JOB, pinned: true });
    const onChanged = vi.fn();
    render(<PinToggle job={{ id: JOB, pinned: false }} onChanged={onChanged} />);
    const button = screen.getByRole("button", { name: "Pin" });
    expect(button.getAttribute("aria-pressed")).toBe("false");
    fireEvent.click(button);
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(calls.map((r) => [r.method, r.url])).toEqual([["POST", `http://api.test/jobs/${JOB}/pin`]]);
    expect(calls[0]?.headers.get("Content-Type")).toBe("application/json");
  });

  it("unpins a pinned job with a DELETE", async () => {
    const calls = respond(200, { id: JOB, pinned: false });
    const onChanged = vi.fn();
    render(<PinToggle job={{ id: JOB, pinned: true }} onChanged={onChanged} />);
    const button = screen.getByRole("button", { name: "Unpin" });
    expect(button.getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(button);
    await waitFor(() => expect(onChanged).toHaveBeenCalledTimes(1));
    expect(calls.map((r) => [r.method, r.url])).toEqual([["DELETE", `http://api.test/jobs/${JOB}/pin`]]);
  });

  it("says why when the API refuses", async () => {
    respond(404, { error: { code: "not_found", message: `job ${JOB} not found`, details: null } });
    const onChanged = vi.fn();
    render(<PinToggle job={{ id: JOB, pinned: false }} onChanged={onChanged} />);
    fireEvent.click(screen.getByRole("button", { name: "Pin" }));
    expect((await screen.findByRole("alert")).textContent).toContain("not found");
    expect(onChanged).not.toHaveBeenCalled();
  });

  it("is disabled for a key without jobs:write", () => {
    render(
      <SignedIn scopes={["jobs:read"]}>
        <PinToggle job={{ id: JOB, pinned: false }} onChanged={() => undefined} />
      </SignedIn>,
    );
    expect((screen.getByRole("button", { name: "Pin" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
