import { Section } from "@/components/Common";
import { JobList } from "@/components/JobList";
import { NewJobForm } from "@/components/NewJobForm";

export default function JobsPage() {
  return (
    <>
      <h1>Jobs</h1>
      <div className="grid">
        <Section title="All jobs">
          <JobList />
        </Section>
        <Section title="New job">
          <NewJobForm />
        </Section>
      </div>
    </>
  );
}
