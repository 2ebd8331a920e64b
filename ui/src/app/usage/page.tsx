import { UsageView } from "@/components/UsageView";

export default function UsagePage() {
  return (
    <>
      <h1>Usage</h1>
      <UsageView />
    </>
  );
}
