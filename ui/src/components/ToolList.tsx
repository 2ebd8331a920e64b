"use client";

import { useMissingScope } from "@/hooks/useSession";
import { useTools } from "@/hooks/useTools";
import { useToolPolicy } from "@/hooks/usePolicy";
import { ErrorNote, JsonBlock } from "./Common";
import { ToolListServers } from "./ToolListServers";

const DECISION_LABELS: Record<string, { label: string; background: string; border: string }> = {
  allow: { label: "Allowed", background: "#d3f9d8", border: "#2f9e44" },
  block: { label: "Blocked", background: "#ffe3e3", border: "#e03131" },
  needs_approval: { label: "Needs approval", background: "#fff3bf", border: "#f08c00" },
};

/** Every tool, its argument schema, and what the current policy mode decides for it. */
export function ToolList() {
  const catalog = useTools();
  const noPolicy = useMissingScope("admin");
  const policy = useToolPolicy(catalog.data?.tools, noPolicy === null);

  if (catalog.error) return <ErrorNote message={catalog.error} />;
  if (!catalog.data) return <p className="muted">Loading tools…</p>;

  return (
    <>
      <ToolListServers servers={catalog.data.servers} />
      {policy.data ? (
        <p>
          Policy mode <code>{policy.data.mode}</code>:{" "}
          {policy.data.gateEnabled
            ? "the Policy Gate is on, so these decisions are enforced."
            : "the Policy Gate is off; this is what the policy would decide if it were on."}
        </p>
      ) : null}
      {noPolicy ? <p className="muted">{noPolicy} Without it, what the policy decides per tool is not shown.</p> : null}
      <ErrorNote message={policy.error} />
      {catalog.data.tools.map((tool) => {
        const decision = policy.data?.byTool[tool.name];
        const look = decision ? DECISION_LABELS[decision.decision] : undefined;
        return (
          <section key={tool.name} className="card tool" aria-label={tool.name} data-testid={`tool-${tool.name}`}>
            <div className="card-head">
              <h2>{tool.name}</h2>
              {decision ? (
                <span
                  className="badge"
                  data-decision={decision.decision}
                  style={look ? { background: look.background, borderColor: look.border } : undefined}
                >
                  {look?.label ?? decision.decision}
                </span>
              ) : null}
            </div>
            <p style={{ marginTop: 0 }}>{tool.description}</p>
            {decision ? (
              <p className="muted">
                {decision.reason} (<code>{decision.rule}</code>)
              </p>
            ) : null}
            <p className="muted">
              {tool.side_effects ? "Has side effects" : "No side effects"} · timeout {tool.timeout_s} s · from{" "}
              <code>{tool.source}</code>
            </p>
            <details>
              <summary>Argument schema</summary>
              <JsonBlock value={tool.args_schema} label={`${tool.name} argument schema`} />
            </details>
            <details>
              <summary>Output schema</summary>
              <JsonBlock value={tool.output_schema} label={`${tool.name} output schema`} />
            </details>
          </section>
        );
      })}
    </>
  );
}
