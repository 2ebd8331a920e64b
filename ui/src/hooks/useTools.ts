import { useCallback } from "react";
import { api, type Tool } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

/** Every registered tool with its description and argument schema. */
export function useTools() {
  const load = useCallback(() => unwrap(api.GET("/tools")), []);
  return useResource<Tool[]>("tools", load);
}
