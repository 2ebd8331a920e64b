import type { Artifact } from "@/api/client";

/** How an artifact is previewed. HTML is shown as its source, never rendered (it is untrusted). */
export type PreviewKind = "markdown" | "json" | "html" | "text" | "image" | "none";

/** Above this size a text preview is not loaded; the download link remains. */
export const MAX_PREVIEW_BYTES = 512 * 1024;
/** Above this size an image is not shown inline. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

const CODE_FILE = /\.(txt|log|csv|tsv|ya?ml|toml|ini|xml|py|ts|tsx|js|jsx|mjs|go|rs|java|c|h|cpp|sh|sql|css|diff|patch)$/i;

export function previewKind(artifact: Pick<Artifact, "name" | "media_type">): PreviewKind {
  const type = artifact.media_type.toLowerCase().split(";")[0]?.trim() ?? "";
  const name = artifact.name;
  if (type.startsWith("image/")) return "image";
  if (type === "text/markdown" || /\.(md|markdown)$/i.test(name)) return "markdown";
  if (type === "application/json" || type.endsWith("+json") || /\.json$/i.test(name)) return "json";
  if (type === "text/html" || type === "application/xhtml+xml" || /\.x?html?$/i.test(name)) return "html";
  if (type.startsWith("text/") || type.includes("yaml") || type.includes("xml") || type.includes("javascript")) {
    return "text";
  }
  if (CODE_FILE.test(name)) return "text";
  return "none";
}

/** Whether the preview needs the artifact's text, and it is small enough to load. */
export function loadsText(artifact: Pick<Artifact, "name" | "media_type" | "size">): boolean {
  const kind = previewKind(artifact);
  return kind !== "image" && kind !== "none" && artifact.size <= MAX_PREVIEW_BYTES;
}

/** JSON pretty-printed with two spaces; the text as it was when it is not JSON. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
