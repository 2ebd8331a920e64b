import { scaleBars } from "@/lib/barChart";

const WIDTH = 720;
const HEIGHT = 160;
const AXIS = 56; // room for the axis labels on the left
const TOP = 8; // room above the top tick for its label

/** One bar per day (an SVG of our own: no chart library). `format` writes an amount for the axis and
 * for each bar's tooltip. */
export function DailyBarChart({
  days,
  format,
  label,
}: {
  days: readonly { label: string; value: number }[];
  format: (value: number) => string;
  label: string;
}) {
  const scale = scaleBars(days, WIDTH - AXIS, HEIGHT);
  const first = days[0];
  const last = days[days.length - 1];
  return (
    <svg
      role="img"
      aria-label={label}
      viewBox={`0 ${-TOP} ${WIDTH} ${HEIGHT + 20 + TOP}`}
      style={{ width: "100%", maxWidth: WIDTH, height: "auto" }}
      data-testid="usage-chart"
    >
      {scale.ticks.map((tick) => {
        const y = HEIGHT - (tick / scale.max) * HEIGHT;
        return (
          <g key={tick}>
            <line x1={AXIS} x2={WIDTH} y1={y} y2={y} stroke="#dee2e6" />
            <text x={AXIS - 4} y={y + 4} textAnchor="end" fontSize="10" fill="#495057">
              {format(tick)}
            </text>
          </g>
        );
      })}
      {scale.bars.map((bar) => (
        <rect key={bar.label} x={AXIS + bar.x} y={bar.y} width={bar.width} height={bar.height} fill="#4263eb">
          <title>{`${bar.label}: ${format(bar.value)}`}</title>
        </rect>
      ))}
      {first && last ? (
        <>
          <text x={AXIS} y={HEIGHT + 14} fontSize="10" fill="#495057">
            {first.label}
          </text>
          <text x={WIDTH} y={HEIGHT + 14} fontSize="10" fill="#495057" textAnchor="end">
            {last.label}
          </text>
        </>
      ) : null}
    </svg>
  );
}
