import { describe, expect, it } from "vitest";
import { loadsText, MAX_PREVIEW_BYTES, prettyJson, previewKind } from "./artifacts";

const a = (name: string, media_type: string, size = 10) => ({ name, media_type, size });

describe("previewKind", () => {
  it("picks a preview by media type, then by name", () => {
    expect(previewKind(a("tools.md", "text/markdown"))).toBe("markdown");
    expect(previewKind(a("notes.md", "application/octet-stream"))).toBe("markdown");
    expect(previewKind(a("data.json", "application/json"))).toBe("json");
    expect(previewKind(a("x", "application/ld+json"))).toBe("json");
    expect(previewKind(a("chart.png", "image/png"))).toBe("image");
    expect(previewKind(a("page.html", "text/html; charset=utf-8"))).toBe("html");
    expect(previewKind(a("notes.txt", "text/plain"))).toBe("text");
    expect(previewKind(a("main.py", "application/octet-stream"))).toBe("text");
    expect(previewKind(a("blob.bin", "application/octet-stream"))).toBe("none");
  });

  it("loads text only for text previews under the size limit", () => {
    expect(loadsText(a("tools.md", "text/markdown"))).toBe(true);
    expect(loadsText(a("tools.md", "text/markdown", MAX_PREVIEW_BYTES + 1))).toBe(false);
    expect(loadsText(a("chart.png", "image/png"))).toBe(false);
    expect(loadsText(a("blob.bin", "application/octet-stream"))).toBe(false);
  });

  it("pretty-prints JSON, and leaves what is not JSON as it was", () => {
    expect(prettyJson('{"a":[1,2]}')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson("{not json")).toBe("{not json");
  });
});
