/** The scaling of a bar chart of daily amounts: bar heights and a round axis, no chart library. */

export interface Bar {
  label: string;
  value: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Scale {
  /** The axis top: a round number at or above the largest value (1 when every value is 0). */
  max: number;
  /** Round axis values from 0 to max. */
  ticks: number[];
  bars: Bar[];
}

/** 1, 2 or 5 times a power of ten, the smallest such at or above `value` (for a readable axis). */
export function niceCeiling(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value * (1 - 1e-12)) ?? 10;
  return step * power;
}

/** Bars for `values` in a `width` x `height` area: one slot per value, a gap between bars, heights in
 * proportion to the axis top; a value above 0 always shows at least one pixel. */
export function scaleBars(
  values: readonly { label: string; value: number }[],
  width: number,
  height: number,
  gap = 2,
): Scale {
  const max = niceCeiling(Math.max(0, ...values.map((v) => v.value)));
  const slot = values.length ? width / values.length : width;
  const barWidth = Math.max(1, slot - gap);
  const bars = values.map((v, i) => {
    const h = v.value > 0 ? Math.max(1, (v.value / max) * height) : 0;
    return { label: v.label, value: v.value, x: i * slot + (slot - barWidth) / 2, y: height - h, width: barWidth, height: h };
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => Number((max * f).toPrecision(6)));
  return { max, ticks, bars };
}
