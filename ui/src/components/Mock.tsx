"use client";

import { isMockProvider, useHealth } from "@/hooks/useHealth";
import { MOCK_NOTICE, MOCK_RECIPES, mockTooltip } from "@/lib/mock";

/** What to run instead of a bare `make up` for real output, one line per provider. */
export function MockRecipes() {
  return (
    <dl className="recipes">
      {MOCK_RECIPES.map((recipe) => (
        <div key={recipe.name}>
          <dt>{recipe.name}</dt>
          <dd>
            <code>{recipe.command}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * "mock model" next to what the built-in mock model wrote: its text is placeholder text. A details
 * element, so the notice and the recipes open by keyboard or click; the summary's title shows them on hover.
 */
export function MockBadge({ testId, what = "This text" }: { testId?: string; what?: string }) {
  const notice = useHealth()?.llmNotice ?? MOCK_NOTICE;
  return (
    <details className="mock-badge" data-testid={testId}>
      <summary title={mockTooltip(notice)}>mock model</summary>
      <div className="mock-pop">
        <p>
          <strong>{what} was written by the built-in mock model.</strong>
        </p>
        <p className="muted">{notice}.</p>
        <MockRecipes />
      </div>
    </details>
  );
}

/** Once in the app's chrome, when /healthz says the mock model writes the text. */
export function MockNotice() {
  const health = useHealth();
  if (!isMockProvider(health)) return null;
  return (
    <div className="mock-notice" role="note" data-testid="mock-notice">
      <strong>{health?.llmNotice ?? MOCK_NOTICE}</strong>
      <details>
        <summary>How to get real output</summary>
        <MockRecipes />
      </details>
    </div>
  );
}
