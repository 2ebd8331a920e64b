"use client";

import type { Artifact, JobStatus } from "@/api/client";
import { formatBytes, formatTime } from "@/lib/format";
import { noArtifactsNote } from "@/lib/wording";
import { ArtifactContent, DownloadLink } from "./ArtifactPreview";

interface Props {
  artifacts: readonly Artifact[];
  jobStatus: JobStatus;
  open: string | null;
  onOpen: (id: string | null) => void;
}

/** Every artifact of the job, each attempt's too; one at a time opens in the viewer. */
export function Artifacts({ artifacts, jobStatus, open, onOpen }: Props) {
  if (artifacts.length === 0) return <p className="muted">{noArtifactsNote(jobStatus)}</p>;
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
            <DownloadLink artifact={artifact} />
          </li>
        ))}
      </ul>
      {opened ? (
        <div style={{ marginTop: "0.8rem" }}>
          <h3>{opened.name}</h3>
          <ArtifactContent artifact={opened} />
        </div>
      ) : null}
    </>
  );
}
