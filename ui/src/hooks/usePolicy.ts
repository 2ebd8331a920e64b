import { useCallback } from "react";
import { api, type Schemas, type Tool } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

export interface ToolPolicy {
  mode: string;
  gateEnabled: boolean;
  /** Per tool name: the decision the gate would make (allow, block, needs_approval) and why. */
  byTool: Record<string, Schemas["TaskDecisionOut"]>;
}

/**
 * What the current policy mode would decide for each tool: a dry run (POST /policy/evaluate)
 * of a plan with one task per tool. Nothing runs and nothing is stored. `allowed` false (the key
 * lacks the admin scope the route needs) skips it.
 */
export function useToolPolicy(tools: Tool[] | undefined, allowed = true) {
  const names = (tools ?? []).map((t) => t.name).sort();
  const key = names.join(",");
  const load = useCallback(async (): Promise<ToolPolicy> => {
    // Task keys are snake_case; tool names may not be (mcp.<server>.<tool>), so number them.
    const tasks = key.split(",").map((name, i) => ({
      key: `tool_${i}`,
      title: name,
      description: "",
      tool: name,
      critic_required: false,
    }));
    const result = await unwrap(api.POST("/policy/evaluate", { body: { plan: { tasks } } }));
    const byTool: ToolPolicy["byTool"] = {};
    for (const decision of result.tasks) byTool[decision.tool] = decision;
    return { mode: result.mode, gateEnabled: result.gate_enabled, byTool };
  }, [key]);
  return useResource(`policy:${key}`, load, { enabled: key !== "" && allowed });
}
