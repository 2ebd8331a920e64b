"use client";

import ReactMarkdown, { type Components } from "react-markdown";
import type { Artifact } from "@/api/client";
import { apiUrl } from "@/api/client";
import { isTextual, MAX_PREVIEW_BYTES, useArtifactText } from "@/hooks/useArtifacts";
import { formatBytes, formatTime } from "@/lib/format";
import { ErrorNote } from "./Common";

/** Markdown from tools is untrusted: no raw HTML (skipHtml, no rehype-raw), no images loaded. */
const MARKDOWN_COMPONENTS: Components = {
  img: ({ alt }) => <span className="muted">[image{alt ? `: ${alt}` : ""}]</span>,
  a: ({ href, children }) => (
    <a href={href} rel="noopener noreferrer nofollow" target="_blank">
      {children}
    </a>
  ),
};

export function isMarkdown(artifact: Artifact): boolean {
  return artifact.media_type.toLowerCase().startsWith("text/markdown") || /\.(md|markdown)$/i.test(artifact.name);
}

export function SafeMarkdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown skipHtml components={MARKDOWN_COMPONENTS}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

function ArtifactViewer({ artifact }: { artifact: Artifact }) {
  const content = useArtifactText(artifact);
  if (!isTextual(artifact)) return <p className="muted">No preview for {artifact.media_type}; use the download link.</p>;
  if (artifact.size > MAX_PREVIEW_BYTES) return <p className="muted">Too large to preview; use the download link.</p>;
  if (content.error) return <ErrorNote message={content.error} />;
  if (content.data === undefined) return <p className="muted">Loading…</p>;
  return (
    <div data-testid="artifact-viewer">
      {isMarkdown(artifact) ? <SafeMarkdown text={content.data} /> : <pre className="text">{content.data}</pre>}
    </div>
  );
}

interface Props {
  artifacts: readonly Artifact[];
  open: string | null;
  onOpen: (id: string | null) => void;
}

/** The job's artifacts; one at a time opens in the viewer. */
export function Artifacts({ artifacts, open, onOpen }: Props) {
  if (artifacts.length === 0) return <p className="muted">No artifacts yet.</p>;
  const opened = artifacts.find((a) => a.id === open) ?? null;
  return (
    <>
      <ul className="plain">
        {artifacts.map((artifact) => (
          <li key={artifact.id}>
            <button
              type="button"
              className="link"
              aria-expanded={artifact.id === open}
              onClick={() => onOpen(artifact.id === open ? null : artifact.id)}
            >
              {artifact.name}
            </button>{" "}
            <span className="muted">
              {artifact.media_type}, {formatBytes(artifact.size)}, attempt {artifact.attempt},{" "}
              {formatTime(artifact.created_at)}
            </span>{" "}
            <a href={apiUrl(artifact.content_url)} download={artifact.name}>
              Download
            </a>
          </li>
        ))}
      </ul>
      {opened ? (
        <div style={{ marginTop: "0.8rem" }}>
          <h3>{opened.name}</h3>
          <ArtifactViewer artifact={opened} />
        </div>
      ) : null}
    </>
  );
}
