import type { ServerStatus } from "@/hooks/useTools";
import { formatTime } from "@/lib/format";

const STATUS_LOOKS: Record<ServerStatus["status"], { label: string; background: string; border: string }> = {
  connected: { label: "Connected", background: "#d3f9d8", border: "#2f9e44" },
  connecting: { label: "Connecting", background: "#e7f5ff", border: "#4dabf7" },
  down: { label: "Down", background: "#ffe3e3", border: "#e03131" },
};

/** The MCP servers whose tools join the catalog (config/mcp.yaml), as this API process sees them. */
export function ToolListServers({ servers }: { servers: ServerStatus[] }) {
  if (servers.length === 0) return null;
  return (
    <section className="card" aria-label="MCP servers">
      <div className="card-head">
        <h2>MCP servers</h2>
      </div>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Server</th>
              <th>Status</th>
              <th>Tools</th>
              <th>Since</th>
            </tr>
          </thead>
          <tbody>
            {servers.map((server) => {
              const look = STATUS_LOOKS[server.status];
              return (
                <tr key={server.name} data-testid={`server-${server.name}`}>
                  <td>
                    <code>{server.name}</code> <span className="muted">({server.transport})</span>
                  </td>
                  <td>
                    <span
                      className="badge"
                      data-status={server.status}
                      style={{ background: look.background, borderColor: look.border }}
                    >
                      {look.label}
                    </span>
                    {server.error ? <p className="hint">{server.error}</p> : null}
                  </td>
                  <td>{server.tools}</td>
                  <td>{formatTime(server.since)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
