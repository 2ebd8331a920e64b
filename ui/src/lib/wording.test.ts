import { describe, expect, it } from "vitest";
import type { TaskStatus } from "@/api/client";
import { criticNote, isFinishedJob, noArtifactsNote, noOutputNote } from "./wording";

describe("criticNote", () => {
  it("says a task without the critic is not reviewed, whatever its state", () => {
    for (const status of ["pending", "running", "succeeded", "failed"] as TaskStatus[]) {
      expect(criticNote(false, status)).toBe("Not reviewed: this task does not require the critic.");
    }
  });

  it("says the critic is off for a task that asked for it and succeeded without a verdict", () => {
    expect(criticNote(true, "succeeded")).toMatch(/^No critic review: the critic is off/);
  });

  it("says a review is awaited while the task has yet to run or is being reviewed", () => {
    expect(criticNote(true, "reviewing")).toBe("Awaiting review: the critic is checking this output.");
    for (const status of ["pending", "ready", "queued", "running", "awaiting_approval"] as TaskStatus[]) {
      expect(criticNote(true, status)).toBe("Awaiting review: the critic checks the output once the task has run.");
    }
  });

  it("says why a task that ended otherwise was not reviewed", () => {
    expect(criticNote(true, "failed")).toBe("Not reviewed: the task failed before a review.");
    expect(criticNote(true, "blocked")).toBe("Not reviewed: the policy blocked the task.");
    expect(criticNote(true, "skipped")).toBe("Not reviewed: the task was skipped.");
    expect(criticNote(true, "cancelled")).toBe("Not reviewed: the task was cancelled.");
  });
});

describe("empty lists by state", () => {
  it("tells 'none yet' from 'none at all'", () => {
    expect(noArtifactsNote("running")).toBe("No artifacts yet.");
    expect(noArtifactsNote("planning")).toBe("No artifacts yet.");
    expect(noArtifactsNote("succeeded")).toBe("The job wrote no artifacts.");
    expect(noArtifactsNote("failed")).toBe("The job wrote no artifacts.");
    expect(noOutputNote("running")).toBe("No output yet.");
    expect(noOutputNote("succeeded")).toBe("This task returned no output.");
    expect(noOutputNote("blocked")).toBe("No output: the task was blocked.");
    expect(noOutputNote("skipped")).toBe("No output: the task was skipped.");
    expect(isFinishedJob("cancelled")).toBe(true);
    expect(isFinishedJob("pending")).toBe(false);
  });
});
