import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeAuthApi, json } from "@/test/fakeAuthApi";
import { SignedIn } from "@/test/signedIn";
import { ToolList } from "./ToolList";

const tool = {
  name: "text_generate",
  description: "Write text",
  args_schema: {},
  output_schema: {},
  side_effects: false,
  timeout_s: 30,
};

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("ToolList", () => {
  it("does not ask the policy (admin only) with a key that lacks admin, and says why", async () => {
    const api = fakeAuthApi({ signedIn: true, scopes: ["jobs:read"] });
    api.routes.set("GET /tools", () => json([tool]));
    render(
      <SignedIn name="ci" scopes={["jobs:read"]}>
        <ToolList />
      </SignedIn>,
    );
    expect(await screen.findByText("Write text")).toBeTruthy();
    expect(screen.getByText(/This key \(ci\) lacks the scope admin/)).toBeTruthy();
    expect(api.calls).toEqual(["GET /tools"]);
  });
});
