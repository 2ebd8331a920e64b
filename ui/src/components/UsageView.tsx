"use client";

import Link from "next/link";
import { useState } from "react";
import { useUsage } from "@/hooks/useUsage";
import { DailyBarChart } from "./DailyBarChart";
import { ErrorNote, Section, StatusBadge } from "./Common";

/** US dollars as the API's budget messages write them. */
export function formatUsd(value: number): string {
  return `$${value.toFixed(value >= 100 ? 2 : 4)}`;
}

const tokens = (input: number, output: number) =>
  `${input.toLocaleString("en-US")} in / ${output.toLocaleString("en-US")} out`;

/** Spend per UTC day (a chart), per model and per job, for the caller's tenant (every tenant's for an admin). */
export function UsageView() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const usage = useUsage(from, to);
  const report = usage.data;
  return (
    <>
      <form className="row" onSubmit={(e) => e.preventDefault()} aria-label="Range">
        <label>
          From <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>{" "}
        <label>
          To <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>{" "}
        <span className="muted">UTC days, at most 366; the last 30 by default.</span>
      </form>
      <ErrorNote message={usage.error} />
      {!report ? (
        usage.error ? null : <p className="muted">Loading usage…</p>
      ) : (
        <>
          <Section title="Per day">
            <p data-testid="usage-total">
              {formatUsd(report.totals.cost_usd)} over {report.totals.calls.toLocaleString("en-US")} model calls (
              {tokens(report.totals.input_tokens, report.totals.output_tokens)} tokens) from {report.from} to {report.to}
              {report.tenant ? `, tenant ${report.tenant}` : ", every tenant"}
              {report.totals.unpriced_calls ? ` · ${report.totals.unpriced_calls} calls without a price` : ""}
            </p>
            <DailyBarChart
              label={`Estimated model spend per day from ${report.from} to ${report.to}`}
              days={report.days.map((d) => ({ label: d.day, value: d.cost_usd }))}
              format={formatUsd}
            />
          </Section>
          <Section title="Per model">
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>Calls</th>
                    <th>Tokens</th>
                    <th>Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {report.models.map((m) => (
                    <tr key={`${m.provider}/${m.model}`}>
                      <td>
                        <code>{m.model}</code> <span className="muted">{m.provider}</span>
                      </td>
                      <td>{m.calls.toLocaleString("en-US")}</td>
                      <td>{tokens(m.input_tokens, m.output_tokens)}</td>
                      <td>{m.unpriced_calls === m.calls ? "no price" : formatUsd(m.cost_usd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {report.models.length ? null : <p className="muted">No model calls in this range.</p>}
          </Section>
          <Section title="Most expensive jobs">
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Job</th>
                    <th>Status</th>
                    {report.tenant ? null : <th>Tenant</th>}
                    <th>Tokens</th>
                    <th>Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {report.jobs.map((j) => (
                    <tr key={j.id}>
                      <td>
                        <Link href={`/job/?id=${j.id}`}>{j.goal}</Link>
                      </td>
                      <td>
                        <StatusBadge kind="job" status={j.status} />
                      </td>
                      {report.tenant ? null : <td>{j.tenant}</td>}
                      <td>{j.tokens_used.toLocaleString("en-US")}</td>
                      <td>{formatUsd(j.cost_usd)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {report.jobs.length ? null : <p className="muted">No job created in this range spent anything.</p>}
          </Section>
        </>
      )}
    </>
  );
}
