import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  evaluateNodes,
  extenderPriority,
  podRequest,
  readPodPreferences,
  type Device,
  type NodeCandidate,
  type PlacementPolicy,
  nvidia,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

function node(name: string, usedMiB: number, extra: Partial<NodeCandidate> = {}): NodeCandidate {
  const device: Device = {
    uuid: `${name}-gpu`,
    index: 0,
    type: "Tesla T4",
    memoryMiB: 16_000,
    cores: 100,
    splitCount: 10,
    numa: 0,
    mode: "hami-core",
    healthy: true,
  };
  const usage = [{ slots: usedMiB > 0 ? 1 : 0, memoryMiB: usedMiB, cores: 0 }];
  return { name, devices: [device], usage, ...extra };
}

const placement = (nodePolicy: string): PlacementPolicy => ({
  nodePolicy,
  gpuPolicy: { order: "spread", numa: false, mutex: false },
  vendor: nvidia,
});

const smallPod = (annotations: Record<string, string> = {}) =>
  pod({
    containers: [container("c", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "4000" })],
    annotations,
  });

function order(
  nodePolicy: string,
  annotations: Record<string, string> = {},
  nodes = [node("a", 8000), node("b", 0), node("c", 12_000)],
) {
  const p = smallPod(annotations);
  return evaluateNodes(
    nodes,
    podRequest(p, policy()),
    readPodPreferences(p.metadata?.annotations),
    placement(nodePolicy),
  );
}

describe("placement - node policies and explanations", () => {
  it("binpack prefers the fullest node that still fits", () => {
    const verdicts = order("binpack");
    assert.deepEqual(
      verdicts.map((v) => v.node),
      ["c", "a", "b"],
    );
    const best = verdicts[0]!;
    assert.ok(best.fits);
    assert.match(best.reason, /^binpack: node load 0\.\d\d after placement/);
  });

  it("spread prefers the emptiest node", () => {
    assert.deepEqual(
      order("spread").map((v) => v.node),
      ["b", "a", "c"],
    );
  });

  it("the pod's annotation overrides the configured node policy", () => {
    const verdicts = order("binpack", { "hami.io/node-scheduler-policy": "spread" });
    assert.deepEqual(
      verdicts.map((v) => v.node),
      ["b", "a", "c"],
    );
  });

  it("ties break by node name, so the order never depends on input order", () => {
    const nodes = [node("z", 0), node("m", 0), node("k", 0)];
    assert.deepEqual(
      order("binpack", {}, nodes).map((v) => v.node),
      ["k", "m", "z"],
    );
  });

  it("unavailable and unfit nodes come last, each with a reason", () => {
    const verdicts = order("binpack", {}, [
      node("full", 14_000),
      node("gone", 0, { unavailable: "agent Lease expired 40 s ago" }),
      node("ok", 0),
    ]);
    assert.deepEqual(
      verdicts.map((v) => [v.node, v.fits ? "fits" : v.reason]),
      [
        ["ok", "fits"],
        ["full", "NodeUnfitPod"],
        ["gone", "NodeUnavailable"],
      ],
    );
    const gone = verdicts[2]!;
    assert.ok(!gone.fits);
    assert.match(gone.message, /agent Lease expired/);
  });

  it("an unknown node policy is an error, not a silent default", () => {
    assert.throws(() => order("roundrobin"), /unknown node scheduler policy "roundrobin"/);
  });

  it("extender priorities are integers 0..10", () => {
    assert.deepEqual([0, 0.04, 0.55, 1, 1.7, -1].map(extenderPriority), [0, 0, 6, 10, 10, 0]);
  });
});
