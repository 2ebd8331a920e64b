import { act, cleanup, fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { accessEpoch, signalAccess } from "@/api/access";
import { useSessionState } from "@/hooks/useSession";
import { FakeEventSource, GOOD_KEY, RUNNING_JOB, fakeAuthApi, json } from "@/test/fakeAuthApi";
import { JobList } from "./JobList";
import { SessionBar } from "./SessionBar";
import { SessionGate, SessionProvider } from "./SessionProvider";

function app() {
  return render(
    <SessionProvider>
      <SessionBar />
      <SessionGate>
        <JobList />
      </SessionGate>
    </SessionProvider>,
  );
}

const keyField = () => screen.getByLabelText("API key") as HTMLInputElement;

function signInWith(key: string) {
  fireEvent.change(keyField(), { target: { value: key } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

/** The open /jobs/changes stream of the jobs list. */
function changesStream(): FakeEventSource {
  const source = FakeEventSource.instances.filter((s) => s.url === "http://api.test/jobs/changes").at(-1);
  if (!source) throw new Error("no /jobs/changes EventSource");
  return source;
}

/** The jobs list's stream, once it has opened it: the list opens it in an effect after it shows a
 * running job, which may run after the job's text is on the page. */
function openedChangesStream(): Promise<FakeEventSource> {
  return waitFor(changesStream);
}

beforeEach(() => {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
  sessionStorage.clear();
});

describe("open access (no keys configured)", () => {
  it("shows the app with a note and no sign-in", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.pathname === "/auth/session") return json({ auth: "open", tenant: null, key_name: null, scopes: [] });
        return json({ items: [] });
      }),
    );
    app();
    expect(await screen.findByText("open access (local)")).toBeTruthy();
    expect(await screen.findByText("No jobs yet. Submit one with the form.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Sign out" })).toBeNull();
  });

  it("treats an API without /auth/session (404) as open", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.pathname === "/auth/session") return json({ error: { code: "not_found", message: "no" } }, 404);
        return json({ items: [] });
      }),
    );
    app();
    expect(await screen.findByText("open access (local)")).toBeTruthy();
  });
});

describe("keys on", () => {
  it("asks for a key, says why a key is refused, signs in, shows who, loads the data, signs out", async () => {
    const api = fakeAuthApi();
    api.routes.set("GET /jobs", () => json({ items: [RUNNING_JOB] }));
    app();

    // Not authorised: only the session was asked, nothing else was loaded or streamed.
    expect(await screen.findByRole("heading", { name: "Not authorised" })).toBeTruthy();
    expect(screen.getByTestId("signin-notice").textContent).toBe("sign in with an API key");
    expect(keyField().type).toBe("password");
    expect(keyField().name).toBe("");
    expect(api.calls).toEqual(["GET /auth/session"]);
    expect(FakeEventSource.instances).toHaveLength(0);

    signInWith("pw_wrong");
    expect((await screen.findByRole("alert")).textContent).toBe("Not authorised: invalid or revoked API key");
    expect(keyField().value).toBe(""); // not kept, not echoed
    expect(document.body.innerHTML).not.toContain("pw_wrong");

    signInWith(GOOD_KEY);
    expect(await screen.findByText(RUNNING_JOB.goal)).toBeTruthy();
    const who = screen.getByTestId("session");
    expect(who.textContent).toContain("acme");
    expect(who.textContent).toContain("ci");
    expect(api.writes.filter((w) => w.call === "POST /auth/session")).toEqual([
      { call: "POST /auth/session", contentType: "application/json", body: '{"key":"pw_wrong"}' },
      { call: "POST /auth/session", contentType: "application/json", body: JSON.stringify({ key: GOOD_KEY }) },
    ]);
    expect(api.calls).toContain("GET /jobs");
    expect((await openedChangesStream()).url).toBe("http://api.test/jobs/changes");
    // The key lives in no JS-readable storage.
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
    expect(document.cookie).not.toContain(GOOD_KEY);
    expect(document.body.innerHTML).not.toContain(GOOD_KEY);

    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Not authorised" })).toBeTruthy();
    expect(screen.getByTestId("signin-notice").textContent).toBe("Signed out.");
    expect(api.writes.at(-1)).toEqual({ call: "DELETE /auth/session", contentType: "application/json", body: "{}" });
    // The page's streams close with it: React runs an unmounted component's effect cleanups after the
    // commit that removed it, so the heading can be on the page a moment before they have run.
    expect(changesStream().url).toBe("http://api.test/jobs/changes");
    await waitFor(() => expect(FakeEventSource.instances.filter((s) => s.readyState !== 2)).toEqual([]));
    expect(screen.queryByTestId("session")).toBeNull();
  });

  it("drops to the sign-in form when a call is answered 401 (key revoked)", async () => {
    const api = fakeAuthApi({ signedIn: true });
    api.routes.set("GET /jobs", () => json({ items: [] }));
    app();
    await screen.findByText("No jobs yet. Submit one with the form.");

    api.signedIn = false;
    fireEvent.click(screen.getByRole("button", { name: "Refresh" }));
    expect(await screen.findByRole("heading", { name: "Not authorised" })).toBeTruthy();
    expect(screen.getByTestId("signin-notice").textContent).toMatch(/^Your session ended/);
  });

  it("asks /auth/session when a live stream is refused, and signs out if access is gone", async () => {
    const api = fakeAuthApi({ signedIn: true });
    api.routes.set("GET /jobs", () => json({ items: [RUNNING_JOB] })); // a running job: the list listens live
    app();
    await screen.findByText(RUNNING_JOB.goal);
    expect(api.calls.filter((c) => c === "GET /auth/session")).toHaveLength(1);

    // Refused before it opened (EventSource cannot tell a 401 from other refusals): ask.
    const stream = await openedChangesStream();
    api.signedIn = false;
    act(() => stream.refuse());
    expect(await screen.findByRole("heading", { name: "Not authorised" })).toBeTruthy();
    expect(api.calls.filter((c) => c === "GET /auth/session")).toHaveLength(2);
  });

  it("stays signed in when a refused stream was not about access", async () => {
    const api = fakeAuthApi({ signedIn: true });
    api.routes.set("GET /jobs", () => json({ items: [RUNNING_JOB] })); // a running job: the list listens live
    app();
    await screen.findByText(RUNNING_JOB.goal);
    const stream = await openedChangesStream();
    act(() => stream.refuse());
    await waitFor(() => expect(api.calls.filter((c) => c === "GET /auth/session")).toHaveLength(2));
    expect(screen.getByTestId("session").textContent).toContain("acme");
    expect(screen.queryByRole("heading", { name: "Not authorised" })).toBeNull();
  });

  it("ignores a 401 to a call made before the latest sign-in", async () => {
    fakeAuthApi({ signedIn: true });
    const { result } = renderHook(() => useSessionState());
    await waitFor(() => expect(result.current.state.status).toBe("active"));
    await act(() => result.current.signIn(GOOD_KEY));
    act(() => signalAccess({ kind: "unauthorized", epoch: accessEpoch() - 1 }));
    expect(result.current.state.status).toBe("active");
    act(() => signalAccess({ kind: "unauthorized", epoch: accessEpoch() }));
    expect(result.current.state.status).toBe("signed-out");
  });
});
