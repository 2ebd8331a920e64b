import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { HealthContext, type Health } from "@/hooks/useHealth";
import { MOCK_NOTICE } from "@/lib/mock";
import { MockNotice } from "./Mock";

const withHealth = (health: Health | null) =>
  render(
    <HealthContext.Provider value={health}>
      <MockNotice />
    </HealthContext.Provider>,
  );

afterEach(cleanup);

describe("MockNotice", () => {
  it("says once, in the chrome, that the mock model writes placeholder text, and how to get real output", () => {
    withHealth({ llmProvider: "mock", llmModel: "mock", llmNotice: MOCK_NOTICE });
    const notice = screen.getByTestId("mock-notice");
    expect(notice.textContent).toContain(MOCK_NOTICE);
    expect(screen.getByText("How to get real output")).toBeTruthy();
    expect(notice.textContent).toContain(
      "LLM_PROVIDER=openai_compatible LLM_BASE_URL=http://127.0.0.1:11434/v1 LLM_MODEL=llama3.1 make up",
    );
  });

  it("says nothing with a real model, or before /healthz answered", () => {
    withHealth({ llmProvider: "openai", llmModel: "gpt-4o-mini", llmNotice: null });
    expect(screen.queryByTestId("mock-notice")).toBeNull();
    cleanup();
    withHealth(null);
    expect(screen.queryByTestId("mock-notice")).toBeNull();
  });
});
