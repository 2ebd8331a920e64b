import { ToolList } from "@/components/ToolList";

export default function ToolsPage() {
  return (
    <>
      <h1>Tools</h1>
      <ToolList />
    </>
  );
}
