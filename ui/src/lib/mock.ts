/**
 * The built-in mock model writes placeholder text. What the UI says about it: the notice (as /healthz
 * and the API's start-up banner word it, libs/core/llm/notice.py) and what to run for real output.
 */
export const MOCK_NOTICE =
  "mock model: placeholder text; set LLM_PROVIDER=openai, anthropic or openai_compatible for real output";

export const MOCK_RECIPES: readonly { name: string; command: string }[] = [
  { name: "OpenAI", command: "LLM_PROVIDER=openai OPENAI_API_KEY=sk-... make up" },
  { name: "Anthropic", command: "LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-... make up" },
  {
    name: "Ollama (local)",
    command: "LLM_PROVIDER=openai_compatible LLM_BASE_URL=http://127.0.0.1:11434/v1 LLM_MODEL=llama3.1 make up",
  },
];

/** The notice and the recipes as one plain-text tooltip. */
export function mockTooltip(notice: string = MOCK_NOTICE): string {
  return [notice, ...MOCK_RECIPES.map((r) => `${r.name}: ${r.command}`)].join("\n");
}
