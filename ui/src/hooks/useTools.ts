import { useCallback } from "react";
import { api, type Schemas } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

export type ToolCatalog = Schemas["ToolsOut"];
export type ServerStatus = Schemas["ServerStatusOut"];

/** Every registered tool (description, schemas, source) and the status of each MCP server. */
export function useTools() {
  const load = useCallback(() => unwrap(api.GET("/tools")), []);
  return useResource<ToolCatalog>("tools", load);
}
