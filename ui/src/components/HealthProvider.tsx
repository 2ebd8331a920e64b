"use client";

import type { ReactNode } from "react";
import { HealthContext, useHealthState } from "@/hooks/useHealth";

/** Reads GET /healthz once and tells the components below which model writes the text. */
export function HealthProvider({ children }: { children: ReactNode }) {
  const health = useHealthState();
  return <HealthContext.Provider value={health}>{children}</HealthContext.Provider>;
}
