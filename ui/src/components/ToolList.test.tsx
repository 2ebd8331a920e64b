import { cleanup, render, screen, within } from "@testing-library/react";
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
  source: "builtin",
};

const mcpTool = { ...tool, name: "mcp.notes.add", description: "Add two integers.", source: "mcp:notes" };

const servers = [
  { name: "notes", transport: "stdio", status: "connected", error: null, tools: 1, since: "2026-01-01T10:00:00Z" },
  {
    name: "github",
    transport: "http",
    status: "down",
    error: "ConnectError: All connection attempts failed",
    tools: 0,
    since: "2026-01-01T10:00:01Z",
  },
];

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("ToolList", () => {
  it("does not ask the policy (admin only) with a key that lacks admin, and says why", async () => {
    const api = fakeAuthApi({ signedIn: true, scopes: ["jobs:read"] });
    api.routes.set("GET /tools", () => json({ tools: [tool], servers: [] }));
    render(
      <SignedIn name="ci" scopes={["jobs:read"]}>
        <ToolList />
      </SignedIn>,
    );
    expect(await screen.findByText("Write text")).toBeTruthy();
    expect(screen.getByText(/This key \(ci\) lacks the scope admin/)).toBeTruthy();
    expect(screen.queryByRole("region", { name: "MCP servers" })).toBeNull();
    expect(api.calls).toEqual(["GET /tools"]);
  });

  it("shows each MCP server's status, and where each tool comes from", async () => {
    const api = fakeAuthApi({ signedIn: true, scopes: ["jobs:read"] });
    api.routes.set("GET /tools", () => json({ tools: [mcpTool, tool], servers }));
    render(
      <SignedIn name="ci" scopes={["jobs:read"]}>
        <ToolList />
      </SignedIn>,
    );
    const table = await screen.findByRole("region", { name: "MCP servers" });
    const notes = within(table).getByTestId("server-notes");
    expect(within(notes).getByText("Connected")).toBeTruthy();
    const github = within(table).getByTestId("server-github");
    expect(within(github).getByText("Down")).toBeTruthy();
    expect(within(github).getByText("ConnectError: All connection attempts failed")).toBeTruthy();
    const card = screen.getByTestId("tool-mcp.notes.add");
    expect(within(card).getByText("mcp:notes")).toBeTruthy();
  });
});
