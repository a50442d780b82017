import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseQuantity } from "../../../src/core/index.js";

describe("quantity - parse", () => {
  const cases: [string | number, number | undefined][] = [
    ["1", 1],
    ["3000", 3000],
    ["2k", 2000],
    ["1Ki", 1024],
    ["1Gi", 2 ** 30],
    ["500m", 0.5],
    ["1e3", 1000],
    ["1.5", 1.5],
    ["-1", -1],
    [" 2 ", 2],
    [4, 4],
    ["abc", undefined],
    ["1GB", undefined],
    ["", undefined],
    ["1.2.3", undefined],
    [Number.NaN, undefined],
  ];
  for (const [raw, expected] of cases) {
    it(`${JSON.stringify(raw)} -> ${String(expected)}`, () => {
      assert.equal(parseQuantity(raw), expected);
    });
  }
});
