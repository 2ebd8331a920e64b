import { describe, expect, it } from "vitest";
import { answerOf, fieldValue, formFor, parseArgs, parseJsonAnswer } from "./answerForm";

describe("formFor", () => {
  it("makes buttons of choices, whatever the schema", () => {
    expect(formFor({ type: "string" }, ["Python", "Go"])).toEqual({ kind: "choices", choices: ["Python", "Go"] });
  });

  it("asks for text when there is no schema", () => {
    const form = formFor(null, null);
    expect(form).toMatchObject({ kind: "field", field: { name: "", kind: "string", required: true } });
  });

  it("makes one field of a scalar or enum schema", () => {
    for (const type of ["string", "number", "integer", "boolean"]) {
      expect(formFor({ type, title: "How many" }, undefined)).toMatchObject({ kind: "field", field: { kind: type, label: "How many" } });
    }
    expect(formFor({ enum: ["a", 2, null] }, [])).toMatchObject({ kind: "field", field: { kind: "enum", options: ["a", 2, null] } });
  });

  it("makes a field per property of a flat object, marking the required ones", () => {
    const form = formFor(
      {
        type: "object",
        properties: { name: { type: "string" }, age: { type: "integer", description: "in years" }, tier: { enum: ["free", "pro"] } },
        required: ["name"],
      },
      null,
    );
    expect(form.kind).toBe("object");
    if (form.kind !== "object") return;
    expect(form.fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["name", "string", true],
      ["age", "integer", false],
      ["tier", "enum", false],
    ]);
    expect(form.fields[1]?.description).toBe("in years");
  });

  it("falls back to JSON for nested objects, arrays and anything else", () => {
    const nested = { type: "object", properties: { address: { type: "object", properties: {} } } };
    expect(formFor(nested, null).kind).toBe("json");
    expect(formFor({ type: "array", items: { type: "string" } }, null).kind).toBe("json");
    expect(formFor({ anyOf: [{ type: "string" }, { type: "null" }] }, null).kind).toBe("json");
    expect(formFor({ type: "object" }, null).kind).toBe("json");
  });
});

describe("answerOf", () => {
  it("turns text into the typed value, and refuses what does not fit before sending", () => {
    const int = formFor({ type: "integer" }, null);
    expect(answerOf(int, { "": "3" })).toEqual({ ok: true, answer: 3 });
    expect(answerOf(int, { "": "2.5" })).toEqual({ ok: false, error: "The answer must be a whole number." });
    expect(answerOf(int, { "": "many" })).toEqual({ ok: false, error: "The answer must be a number." });
    expect(answerOf(formFor({ type: "number" }, null), { "": " 2.5 " })).toEqual({ ok: true, answer: 2.5 });
    expect(answerOf(formFor({ type: "boolean" }, null), {})).toEqual({ ok: true, answer: false });
    expect(answerOf(formFor(null, null), { "": "  " })).toEqual({ ok: false, error: "Write an answer first." });
    expect(answerOf(formFor(null, null), { "": "Go" })).toEqual({ ok: true, answer: "Go" });
  });

  it("picks an enum's value by its option, keeping its JSON type", () => {
    const form = formFor({ enum: ["a", 2] }, null);
    expect(answerOf(form, { "": "1" })).toEqual({ ok: true, answer: 2 });
    expect(answerOf(form, { "": "" }).ok).toBe(false);
  });

  it("builds an object, leaving out empty optional fields and requiring the required ones", () => {
    const form = formFor(
      { type: "object", properties: { name: { type: "string" }, age: { type: "integer" }, ok: { type: "boolean" } }, required: ["name"] },
      null,
    );
    expect(answerOf(form, { name: "Ada", age: "", ok: true })).toEqual({ ok: true, answer: { name: "Ada", ok: true } });
    expect(answerOf(form, { age: "3" })).toEqual({ ok: false, error: "Fill in name." });
    expect(answerOf(form, { name: "Ada", age: "x" })).toEqual({ ok: false, error: "age must be a number." });
  });

  it("checks that a JSON answer is JSON", () => {
    const form = formFor({ type: "array" }, null);
    expect(answerOf(form, { "": "[1, 2]" })).toEqual({ ok: true, answer: [1, 2] });
    const bad = answerOf(form, { "": "[1," });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.startsWith("The answer is not valid JSON")).toBe(true);
    expect(parseJsonAnswer("")).toEqual({ ok: false, error: "Write the answer as JSON first." });
  });

  it("leaves choices to their buttons", () => {
    expect(answerOf(formFor(null, ["a", "b"]), {}).ok).toBe(false);
  });
});

describe("fieldValue", () => {
  it("lets an optional number stay empty", () => {
    expect(fieldValue({ name: "n", label: "n", kind: "number", required: false, options: [] }, "")).toEqual({ ok: true, value: undefined });
  });
});

describe("parseArgs", () => {
  it("accepts a JSON object only", () => {
    expect(parseArgs('{"url": "https://example.com/"}')).toEqual({ ok: true, args: { url: "https://example.com/" } });
    expect(parseArgs("[1]")).toEqual({ ok: false, error: "The arguments must be a JSON object ({...})." });
    const bad = parseArgs("{");
    expect(!bad.ok && bad.error.startsWith("The arguments are not valid JSON")).toBe(true);
  });
});
