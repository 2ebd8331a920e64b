/**
 * The form for an ask_human question, from its JSON schema and choices: choices as buttons; a string,
 * number, integer, boolean or enum as one field; a flat object of those as one field each; anything
 * else as a JSON text area, checked before it is sent. The API checks the answer again (422).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum";

export interface Field {
  /** The property name; "" for a question whose answer is one value. */
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  /** For an enum: the allowed values, shown by their JSON text. */
  options: Json[];
  description?: string;
}

export type AnswerForm =
  | { kind: "choices"; choices: string[] }
  | { kind: "field"; field: Field }
  | { kind: "object"; fields: Field[] }
  | { kind: "json"; schema: Schema };

/** A field's raw input: the text typed or the option picked (its index, as text), or a checkbox. */
export type Raw = string | boolean;

export type Checked = { ok: true; answer: Json } | { ok: false; error: string };

const SCALARS: readonly string[] = ["string", "number", "integer", "boolean"];

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A schema that one form field can hold, or null. */
export function fieldOf(schema: unknown, name: string, required: boolean): Field | null {
  if (!isObject(schema)) return null;
  const label = typeof schema["title"] === "string" ? schema["title"] : name || "Answer";
  const description = typeof schema["description"] === "string" ? schema["description"] : undefined;
  const base = { name, label, required, description };
  if (Array.isArray(schema["enum"]) && schema["enum"].length > 0) {
    return { ...base, kind: "enum", options: schema["enum"] as Json[] };
  }
  if (typeof schema["type"] === "string" && SCALARS.includes(schema["type"])) {
    return { ...base, kind: schema["type"] as FieldKind, options: [] };
  }
  return null;
}

/** The form for a question: choices win, then the schema; no schema is a free-text answer. */
export function formFor(schema: unknown, choices: readonly string[] | null | undefined): AnswerForm {
  if (choices && choices.length > 0) return { kind: "choices", choices: [...choices] };
  if (schema === null || schema === undefined) {
    return { kind: "field", field: { name: "", label: "Answer", kind: "string", required: true, options: [] } };
  }
  const single = fieldOf(schema, "", true);
  if (single) return { kind: "field", field: single };
  if (isObject(schema) && schema["type"] === "object" && isObject(schema["properties"])) {
    const required = Array.isArray(schema["required"]) ? (schema["required"] as unknown[]) : [];
    const fields = Object.entries(schema["properties"]).map(([name, sub]) => fieldOf(sub, name, required.includes(name)));
    if (fields.length > 0 && fields.every((f): f is Field => f !== null)) return { kind: "object", fields };
  }
  return { kind: "json", schema: isObject(schema) ? schema : {} };
}

/** One field's value from its raw input; `undefined` for an optional field left empty. */
export function fieldValue(field: Field, raw: Raw | undefined): { ok: true; value: Json | undefined } | { ok: false; error: string } {
  const where = field.name || "The answer";
  if (field.kind === "boolean") return { ok: true, value: raw === true };
  const text = typeof raw === "string" ? raw : "";
  if (text.trim() === "") {
    if (field.kind === "string" && field.name === "") return { ok: false, error: "Write an answer first." };
    return field.required ? { ok: false, error: `Fill in ${where}.` } : { ok: true, value: undefined };
  }
  switch (field.kind) {
    case "enum": {
      const index = Number(text);
      if (!Number.isInteger(index) || index < 0 || index >= field.options.length) {
        return { ok: false, error: `Pick one of the options for ${where}.` };
      }
      return { ok: true, value: field.options[index] };
    }
    case "number":
    case "integer": {
      const value = Number(text.trim());
      if (!Number.isFinite(value)) return { ok: false, error: `${where} must be a number.` };
      if (field.kind === "integer" && !Number.isInteger(value)) {
        return { ok: false, error: `${where} must be a whole number.` };
      }
      return { ok: true, value };
    }
    default:
      return { ok: true, value: text };
  }
}

/** The answer a filled-in form gives (not for "choices": a button is the answer). */
export function answerOf(form: AnswerForm, raws: Readonly<Record<string, Raw>>): Checked {
  if (form.kind === "json") return parseJsonAnswer(typeof raws[""] === "string" ? raws[""] : "");
  if (form.kind === "field") {
    const got = fieldValue(form.field, raws[""]);
    if (!got.ok) return got;
    return got.value === undefined ? { ok: false, error: "Write an answer first." } : { ok: true, answer: got.value };
  }
  if (form.kind === "choices") return { ok: false, error: "Pick one of the choices." };
  const answer: { [key: string]: Json } = {};
  for (const field of form.fields) {
    const got = fieldValue(field, raws[field.name]);
    if (!got.ok) return got;
    if (got.value !== undefined) answer[field.name] = got.value;
  }
  return { ok: true, answer };
}

/** A JSON answer typed as text, or why it is not JSON. */
export function parseJsonAnswer(text: string): Checked {
  if (text.trim() === "") return { ok: false, error: "Write the answer as JSON first." };
  try {
    return { ok: true, answer: JSON.parse(text) as Json };
  } catch (thrown) {
    return { ok: false, error: `The answer is not valid JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}` };
  }
}

/** Edited args typed as JSON: an object, or why not. */
export function parseArgs(text: string): { ok: true; args: { [key: string]: Json } } | { ok: false; error: string } {
  const parsed = parseJsonAnswer(text);
  if (!parsed.ok) return { ok: false, error: parsed.error.replace("The answer is", "The arguments are") };
  if (!isObject(parsed.answer)) return { ok: false, error: "The arguments must be a JSON object ({...})." };
  return { ok: true, args: parsed.answer as { [key: string]: Json } };
}
