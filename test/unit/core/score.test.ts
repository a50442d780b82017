import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { round2 } from "../../../src/core/index.js";

describe("score - reasons", () => {
  it("round2 writes what toFixed(2) writes for scores and loads, without its cost", () => {
    // Every reason of every node scored carries a number; toFixed costs about 0.2 us a call.
    // Half-hundredths are left out: toFixed rounds the binary value, round2 the product by 100.
    for (let i = -20_000; i <= 20_000; i++) {
      const n = i / 7919;
      if (Math.abs(((Math.abs(n) * 1000) % 10) - 5) < 1e-6) continue;
      assert.equal(round2(n), n.toFixed(2), `n=${n}`);
    }
    assert.equal(round2(0), "0.00");
    assert.equal(round2(1), "1.00");
    assert.equal(round2(0.5), "0.50");
    assert.equal(round2(-0.001), "-0.00");
  });
});
