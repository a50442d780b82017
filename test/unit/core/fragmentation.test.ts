// The fragmentation measure on tiny clusters whose answer can be worked out by hand.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  evaluateNode,
  fgdScorer,
  nodeFragmentation,
  nvidia,
  podRequest,
  type Device,
  type DeviceUsage,
  type PlacementPolicy,
  type TaskClass,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

const gpu = (i: number): Device => ({
  uuid: `g${i}`,
  index: i,
  type: "T4",
  memoryMiB: 1000,
  cores: 100,
  splitCount: 100,
  numa: 0,
  mode: "hami-core",
  healthy: true,
});
/** A device with `used` of 1000 MiB and the same share of cores taken. */
const taken = (share: number): DeviceUsage => ({
  slots: share > 0 ? 1 : 0,
  memoryMiB: share * 1000,
  cores: share * 100,
});
const frag = (
  shares: number[],
  classes: TaskClass[],
  host?: { cpuMilli: number; memoryMiB: number },
) =>
  nodeFragmentation(
    { devices: shares.map((_, i) => gpu(i)), usage: shares.map(taken), host },
    classes,
  );

describe("fragmentation - known answers", () => {
  const half: TaskClass = { gpus: 1, share: 0.5, weight: 1 };
  const whole: TaskClass = { gpus: 1, share: 1, weight: 1 };

  it("free slivers smaller than the task are fragments; usable free share is not", () => {
    // free: 0.3 (sliver) and 0.6 (usable for a 0.5 task)
    assert.ok(Math.abs(frag([0.7, 0.4], [half]) - 0.3) < 1e-9);
  });

  it("if no GPU can take the task at all, all free share is fragment", () => {
    assert.ok(Math.abs(frag([0.7, 0.8], [half]) - 0.5) < 1e-9);
  });

  it("whole-GPU tasks see every partly used GPU as fragment", () => {
    assert.ok(Math.abs(frag([0, 0.2], [whole]) - 0.8) < 1e-9);
    assert.ok(
      Math.abs(frag([0.5, 0.2], [whole]) - 1.3) < 1e-9,
      "no empty GPU: everything free is fragment",
    );
  });

  it("classes are averaged by popularity", () => {
    // half: 0.3 sliver; whole: 0.3 + 0.6 = 0.9 (no empty GPU). Weights 3:1.
    const classes = [{ ...half, weight: 3 }, whole];
    assert.ok(Math.abs(frag([0.7, 0.4], classes) - (3 * 0.3 + 0.9) / 4) < 1e-9);
  });

  it("a node short of CPU for a class cannot use any of its GPUs for it", () => {
    const needy = { ...half, cpuMilli: 8000 };
    assert.ok(Math.abs(frag([0, 0], [needy], { cpuMilli: 4000, memoryMiB: 1e6 }) - 2) < 1e-9);
    assert.equal(frag([0, 0], [needy], { cpuMilli: 8000, memoryMiB: 1e6 }), 0);
  });

  it("fgd prefers the placement that grows fragmentation least", () => {
    const scorer = fgdScorer([half]);
    const devices = [gpu(0), gpu(1)];
    const before = [taken(0.5), taken(0)];
    // a 0.5 task: onto the half-used GPU (fills it: no sliver) vs onto the empty one (leaves 0.5+0.5 usable)
    const fillUp = scorer({ devices, before, after: [taken(1), taken(0)] });
    const breakNew = scorer({ devices, before, after: [taken(0.5), taken(0.5)] });
    assert.ok(fillUp.score >= breakNew.score);
    // a 0.3 task: leaving a 0.2 sliver on the half-used GPU is worse than opening the empty one
    const sliver = scorer({ devices, before, after: [taken(0.8), taken(0)] });
    const open = scorer({ devices, before, after: [taken(0.5), taken(0.3)] });
    assert.ok(open.score > sliver.score, `${open.reason} vs ${sliver.reason}`);
  });

  it("under fgd the GPU inside the node is the one that leaves the least fragmentation", () => {
    // Free 0.7 and 0.6 of a GPU; a 0.2 task. binpack takes the fuller GPU (free 0.6 -> 0.4, a
    // sliver for the 0.5 class); fgd takes the other (0.7 -> 0.5: both GPUs still take a 0.5 task).
    const node = { name: "n", devices: [gpu(0), gpu(1)], usage: [taken(0.3), taken(0.4)] };
    const request = podRequest(
      pod({
        containers: [
          container("c", {
            "nvidia.com/gpu": "1",
            "nvidia.com/gpumem": "200",
            "nvidia.com/gpucores": "20",
          }),
        ],
      }),
      policy(),
    );
    const placement = (nodePolicy: string): PlacementPolicy => ({
      nodePolicy,
      gpuPolicy: { order: "binpack", numa: false, mutex: false },
      scorers: { fgd: fgdScorer([half]) },
      vendor: nvidia,
    });
    const chosen = (nodePolicy: string) => {
      const verdict = evaluateNode(node, request, {}, placement(nodePolicy));
      assert.ok(verdict.fits);
      return verdict.devices[0]?.map((d) => d.uuid);
    };
    assert.deepEqual(chosen("binpack"), ["g1"], "binpack: the fuller GPU");
    assert.deepEqual(chosen("fgd"), ["g0"], "fgd: no sliver left");
  });
});
