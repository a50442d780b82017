import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clusterSummary,
  FitReason,
  HAMI_CORE_MODE,
  pendingReason,
  type Device,
  type NodeVerdict,
} from "../../../src/core/index.js";

function gpu(uuid: string, healthy = true): Device {
  const device: Device = {
    uuid,
    index: 0,
    type: "NVIDIA-A100",
    memoryMiB: 10_000,
    cores: 100,
    splitCount: 4,
    numa: 0,
    mode: HAMI_CORE_MODE,
    healthy,
  };
  return device;
}

describe("core - cluster summary", () => {
  const nodes = [
    {
      devices: [gpu("a"), gpu("b"), gpu("c", false)],
      usage: [
        { memoryMiB: 9_000, cores: 10, slots: 1 }, // 0.1 free: smaller than any class
        { memoryMiB: 5_000, cores: 50, slots: 2 }, // 0.5 free: a half-GPU task fits
        { memoryMiB: 0, cores: 0, slots: 0 },
      ],
    },
    { devices: [gpu("d")], usage: [{ memoryMiB: 10_000, cores: 100, slots: 1 }] },
  ];
  const classes = [
    { gpus: 1, share: 0.5, weight: 3 },
    { gpus: 1, share: 1, weight: 1 },
  ];

  it("counts GPUs, booked memory and cores, free share, and GPUs fragmented for the workload", () => {
    const s = clusterSummary(nodes, classes);
    assert.equal(s.gpus, 4);
    assert.equal(s.healthyGpus, 3);
    assert.equal(s.memoryMiB, 40_000);
    assert.equal(s.memoryAllocatedMiB, 24_000);
    assert.equal(s.coresAllocated, 160);
    assert.ok(Math.abs(s.freeGpus - 1.6) < 1e-9);
    assert.equal(s.fragmentedGpus, 1);
    // Node 1 for the half-GPU class: 0.1 unusable; for the whole-GPU class: 0.1 + 0.5 unusable.
    assert.ok(
      Math.abs(s.fragmentationGpus - (0.75 * 0.1 + 0.25 * 0.6)) < 1e-9,
      String(s.fragmentationGpus),
    );
  });

  it("with whole-GPU tasks only, every partly booked GPU is fragmented", () => {
    const s = clusterSummary(nodes, [{ gpus: 1, share: 1, weight: 1 }]);
    assert.equal(s.fragmentedGpus, 2);
  });
});

describe("core - why a pending pod is not placed", () => {
  const no = (node: string, reason: FitReason, message: string): NodeVerdict => ({
    node,
    fits: false,
    reason,
    message,
    counts: {},
  });

  it("groups the nodes' reasons, most common first", () => {
    const a = FitReason.NodeUnavailable;
    const b = FitReason.CardInsufficientMemory;
    assert.equal(
      pendingReason([no("n1", a, "first"), no("n2", b, "second"), no("n3", b, "second again")]),
      "0/3 nodes fit (2: second; 1: first)",
    );
  });

  it("nodes sharing a reason sum their device reasons, so a GPU refused on a later node shows", () => {
    const unfit = (
      node: string,
      message: string,
      counts: Partial<Record<FitReason, number>>,
    ): NodeVerdict => ({ node, fits: false, reason: FitReason.NodeUnfitPod, message, counts });
    assert.equal(
      pendingReason([
        unfit("a", "NodeUnfitPod: 0 of 2 fit (2 CardUuidMismatch)", { CardUuidMismatch: 2 }),
        unfit("b", "NodeUnfitPod: 0 of 8 fit (7 CardUuidMismatch, 1 CardCordoned)", {
          CardUuidMismatch: 7,
          CardCordoned: 1,
        }),
      ]),
      "0/2 nodes fit (2: NodeUnfitPod: 0 of 2 fit (2 CardUuidMismatch); devices on these 2 nodes: 9 CardUuidMismatch, 1 CardCordoned)",
    );
  });

  it("a pod that fits somewhere waits for kube-scheduler; no nodes says so", () => {
    assert.equal(
      pendingReason([
        { node: "n1", fits: true, devices: [], score: 1, reason: "binpack" },
        no("n2", FitReason.NodeUnavailable, "agent gone"),
      ]),
      "fits 1 of 2 nodes: waiting for kube-scheduler",
    );
    assert.equal(pendingReason([]), "no GPU nodes");
  });
});
