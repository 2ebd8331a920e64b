import { describe, expect, it } from "vitest";
import { niceCeiling, scaleBars } from "./barChart";

describe("niceCeiling", () => {
  it("rounds up to 1, 2 or 5 times a power of ten", () => {
    expect(niceCeiling(0.035)).toBe(0.05);
    expect(niceCeiling(0.05)).toBe(0.05);
    expect(niceCeiling(1.2)).toBe(2);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(120)).toBe(200);
  });

  it("gives 1 when there is nothing to show", () => {
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(Number.NaN)).toBe(1);
  });
});

describe("scaleBars", () => {
  const days = [
    { label: "2026-03-01", value: 0 },
    { label: "2026-03-02", value: 0.025 },
    { label: "2026-03-03", value: 0.05 },
    { label: "2026-03-04", value: 0.000001 },
  ];

  it("scales heights to a round axis top and puts one bar in each slot", () => {
    const scale = scaleBars(days, 400, 100, 4);
    expect(scale.max).toBe(0.05);
    expect(scale.ticks).toEqual([0, 0.0125, 0.025, 0.0375, 0.05]);
    expect(scale.bars.map((b) => b.height)).toEqual([0, 50, 100, 1]);
    expect(scale.bars.map((b) => b.y)).toEqual([100, 50, 0, 99]);
    expect(scale.bars.map((b) => b.x)).toEqual([2, 102, 202, 302]);
    expect(scale.bars.every((b) => b.width === 96)).toBe(true);
  });

  it("draws no bar for an empty range and keeps every bar at least a pixel wide", () => {
    expect(scaleBars([], 400, 100).bars).toEqual([]);
    const many = Array.from({ length: 366 }, (_, i) => ({ label: String(i), value: i }));
    const scale = scaleBars(many, 300, 100);
    expect(scale.bars).toHaveLength(366);
    expect(Math.min(...scale.bars.map((b) => b.width))).toBe(1);
    expect(scale.max).toBe(500);
  });
});
