"use client";

import { apiUrl, type Artifact } from "@/api/client";
import { useArtifactText } from "@/hooks/useArtifacts";
import { MAX_IMAGE_BYTES, MAX_PREVIEW_BYTES, prettyJson, previewKind } from "@/lib/artifacts";
import { formatBytes } from "@/lib/format";
import { ErrorNote } from "./Common";
import { SafeMarkdown } from "./SafeMarkdown";

/** The artifact's content by its type: markdown rendered (safely), JSON pretty-printed, HTML and other text as text, images as images. */
export function ArtifactContent({ artifact, testId = "artifact-viewer" }: { artifact: Artifact; testId?: string }) {
  const kind = previewKind(artifact);
  const content = useArtifactText(artifact);
  if (kind === "image") {
    if (artifact.size > MAX_IMAGE_BYTES) return <p className="muted">Too large to show here; use the download link.</p>;
    return (
      <div data-testid={testId}>
        <img className="artifact-image" src={apiUrl(artifact.content_url)} alt={`${artifact.name} (image artifact)`} />
      </div>
    );
  }
  if (kind === "none") return <p className="muted">No preview for {artifact.media_type}; use the download link.</p>;
  if (artifact.size > MAX_PREVIEW_BYTES) {
    return <p className="muted">Too large to preview ({formatBytes(artifact.size)}); use the download link.</p>;
  }
  if (content.error) return <ErrorNote message={content.error} />;
  if (content.data === undefined) return <p className="muted">Loading…</p>;
  return (
    <div data-testid={testId} data-kind={kind}>
      {kind === "markdown" ? (
        <SafeMarkdown text={content.data} />
      ) : (
        <>
          {kind === "html" ? <p className="hint">HTML is shown as its source, never rendered.</p> : null}
          <pre className={kind === "json" ? "json" : "text"}>{kind === "json" ? prettyJson(content.data) : content.data}</pre>
        </>
      )}
    </div>
  );
}

/** A link that downloads the artifact; its accessible name says which. */
export function DownloadLink({ artifact }: { artifact: Artifact }) {
  return (
    <a href={apiUrl(artifact.content_url)} download={artifact.name} aria-label={`Download ${artifact.name}`}>
      Download
    </a>
  );
}

/** One artifact of the result: its name, type and size, a download link, and its content inline. */
export function ArtifactCard({ artifact }: { artifact: Artifact }) {
  return (
    <article className="artifact" aria-label={`Artifact ${artifact.name}`} data-testid={`result-artifact-${artifact.name}`}>
      <div className="artifact-head">
        <strong>{artifact.name}</strong>
        <span className="muted">
          {artifact.media_type}, {formatBytes(artifact.size)}
        </span>
        <DownloadLink artifact={artifact} />
      </div>
      <ArtifactContent artifact={artifact} testId="result-artifact-content" />
    </article>
  );
}
