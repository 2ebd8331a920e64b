"use client";

import { useId, useMemo, useState } from "react";
import type { Task } from "@/api/client";
import { useMissingScope } from "@/hooks/useSession";
import { useTaskInput } from "@/hooks/useTasks";
import { type Field, type Raw, answerOf, formFor } from "@/lib/answerForm";
import { ErrorNote, JsonBlock } from "./Common";

/** What an ask_human task asks: from its task.awaiting_input event (args resolved), else its args. */
export interface Question {
  question: string;
  schema: unknown;
  choices: string[] | null;
}

export function questionOf(task: Task, event?: Record<string, unknown> | null): Question {
  const from = event ?? task.args;
  const choices = Array.isArray(from["choices"]) ? (from["choices"] as unknown[]).map(String) : null;
  return {
    question: typeof from["question"] === "string" ? from["question"] : "",
    schema: from["schema"] ?? null,
    choices,
  };
}

function FieldInput({ field, id, value, onChange }: { field: Field; id: string; value: Raw | undefined; onChange: (v: Raw) => void }) {
  const label = `${field.label}${field.required ? "" : " (optional)"}`;
  if (field.kind === "boolean") {
    return (
      <label htmlFor={id} style={{ display: "block" }}>
        <input id={id} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    );
  }
  const text = typeof value === "string" ? value : "";
  return (
    <>
      <label htmlFor={id}>{label}</label>
      {field.description ? <p className="hint">{field.description}</p> : null}
      {field.kind === "enum" ? (
        <select id={id} value={text} onChange={(e) => onChange(e.target.value)}>
          <option value="">Choose…</option>
          {field.options.map((option, i) => (
            <option key={i} value={String(i)}>
              {typeof option === "string" ? option : JSON.stringify(option)}
            </option>
          ))}
        </select>
      ) : field.kind === "string" ? (
        <textarea id={id} rows={field.name ? 1 : 3} value={text} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input id={id} inputMode="decimal" value={text} onChange={(e) => onChange(e.target.value)} />
      )}
    </>
  );
}

/** An ask_human task's question and a form built from its schema or choices (POST /tasks/{id}/input). */
export function InputBox({ task, question, onChanged }: { task: Task; question: Question; onChanged: () => void }) {
  const id = useId();
  const form = useMemo(() => formFor(question.schema, question.choices), [question.schema, question.choices]);
  const [raws, setRaws] = useState<Record<string, Raw>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const { give, busy, error } = useTaskInput(onChanged);
  const denied = useMissingScope("approvals:write");
  const disabled = busy || denied !== null;

  function submit() {
    const checked = answerOf(form, raws);
    setProblem(checked.ok ? null : checked.error);
    if (checked.ok) void give(task.id, checked.answer);
  }

  const set = (name: string) => (value: Raw) => setRaws((r) => ({ ...r, [name]: value }));
  return (
    <div className="notice" style={{ marginTop: "0.8rem" }} data-testid="input-box">
      <strong>This task asks a person:</strong>
      <p style={{ margin: "0.4rem 0", whiteSpace: "pre-wrap" }} data-testid="question">
        {question.question}
      </p>
      {form.kind === "choices" ? (
        <div className="row">
          {form.choices.map((choice) => (
            <button key={choice} type="button" className="primary" disabled={disabled} title={denied ?? undefined} onClick={() => void give(task.id, choice)}>
              {choice}
            </button>
          ))}
        </div>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          {form.kind === "field" ? <FieldInput field={form.field} id={`${id}-answer`} value={raws[""]} onChange={set("")} /> : null}
          {form.kind === "object"
            ? form.fields.map((field) => (
                <FieldInput key={field.name} field={field} id={`${id}-${field.name}`} value={raws[field.name]} onChange={set(field.name)} />
              ))
            : null}
          {form.kind === "json" ? (
            <>
              <label htmlFor={`${id}-json`}>Answer (JSON)</label>
              <details>
                <summary>The schema it must match</summary>
                <JsonBlock value={form.schema} label="Answer schema" />
              </details>
              <textarea id={`${id}-json`} rows={5} className="mono" value={typeof raws[""] === "string" ? raws[""] : ""} onChange={(e) => set("")(e.target.value)} />
            </>
          ) : null}
          <div className="row">
            <button type="submit" className="primary" disabled={disabled} title={denied ?? undefined}>
              {busy ? "Sending…" : "Send answer"}
            </button>
          </div>
        </form>
      )}
      {denied ? <p className="hint">{denied} Answering needs a key with it.</p> : null}
      <ErrorNote message={problem ?? error} />
    </div>
  );
}
