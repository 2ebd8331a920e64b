"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { JobView } from "@/components/JobView";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function JobPageInner() {
  const id = useSearchParams().get("id");
  if (!id || !UUID.test(id)) {
    return (
      <>
        <p className="error" role="alert">
          {id ? `“${id}” is not a job id.` : "No job chosen."} Open a job from the list.
        </p>
        <Link href="/">Back to jobs</Link>
      </>
    );
  }
  return <JobView key={id} jobId={id} />;
}

export default function JobPage() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <JobPageInner />
    </Suspense>
  );
}
