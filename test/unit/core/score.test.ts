import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  nodeScorers,
  rankNode,
  evaluateNode,
  round2,
  type Device,
  type DeviceUsage,
  nvidia,
} from "../../../src/core/index.js";
import { random } from "../../../src/sim/index.js";

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

  it("a scorer's score alone equals the score it explains, and rankNode agrees with evaluateNode", () => {
    const draw = random(11);
    const device = (i: number): Device => ({
      uuid: `GPU-${i}`,
      index: i,
      type: "NVIDIA-A100",
      memoryMiB: 40_000,
      cores: 100,
      splitCount: 10,
      numa: 0,
      mode: "hami-core",
      healthy: true,
    });
    const use = (): DeviceUsage => ({
      slots: Math.floor(draw() * 10),
      memoryMiB: Math.floor(draw() * 40_000),
      cores: Math.floor(draw() * 100),
    });
    for (let round = 0; round < 500; round++) {
      const devices = Array.from({ length: 1 + Math.floor(draw() * 8) }, (_, i) => device(i));
      const input = { devices, before: devices.map(use), after: devices.map(use) };
      for (const [name, scorer] of Object.entries(nodeScorers))
        assert.equal(scorer.score?.(input), scorer(input).score, `${name}, round ${round}`);
      const node = { name: "n", devices, usage: input.before };
      const request = {
        slots: [
          {
            name: "c",
            init: false,
            request: {
              count: 1 + Math.floor(draw() * 2),
              memory: { mib: Math.floor(draw() * 30_000) },
              cores: Math.floor(draw() * 60),
            },
          },
        ],
        initContainers: 0,
      };
      const policy = {
        nodePolicy: draw() < 0.5 ? "binpack" : "spread",
        gpuPolicy: { order: "binpack" as const, numa: false, mutex: false },
        vendor: nvidia,
      };
      const verdict = evaluateNode(node, request, {}, policy);
      assert.deepEqual(
        rankNode(node, request, {}, policy),
        verdict.fits
          ? { fits: true, score: verdict.score }
          : { fits: false, message: verdict.message },
        `round ${round}`,
      );
    }
  });
});
