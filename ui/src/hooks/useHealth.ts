import { createContext, useCallback, useContext } from "react";
import { apiFetch, apiUrl } from "@/api/client";
import { useResource } from "./useResource";

/** What the UI reads from GET /healthz (not in the OpenAPI schema): the model that writes the text. */
export interface Health {
  llmProvider: string | null;
  llmModel: string | null;
  /** Set for the built-in mock model: its text is placeholder text. */
  llmNotice: string | null;
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : null);

/** Reads /healthz; its body says which model is configured, whether the API is healthy (200) or not (503). */
export async function readHealth(): Promise<Health> {
  const response = await apiFetch(new Request(apiUrl("/healthz")));
  const body: unknown = await response.json();
  const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  return {
    llmProvider: text(fields["llm_provider"]),
    llmModel: text(fields["llm_model"]),
    llmNotice: text(fields["llm_notice"]),
  };
}

/** The health as read once per page load (null until read, or when it could not be read). */
export const HealthContext = createContext<Health | null>(null);

export function useHealth(): Health | null {
  return useContext(HealthContext);
}

export function isMockProvider(health: Health | null): boolean {
  return health?.llmProvider === "mock";
}

/** For the provider: one read of /healthz. */
export function useHealthState(): Health | null {
  const load = useCallback(() => readHealth(), []);
  return useResource<Health>("healthz", load).data ?? null;
}
