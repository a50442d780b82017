// filter/prioritize over a ClusterView: verdicts reused between pods of one shape must never go
// stale when a node changes or its agent Lease runs out.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig, mutatePolicy, placementPolicy } from "../../../src/config/index.js";
import {
  Annotation,
  encodeNodeDevices,
  extenderPriority,
  type Pod,
} from "../../../src/core/index.js";
import { ClusterView, explainPod, filter, prioritize } from "../../../src/scheduler/index.js";
import { random } from "../../../src/sim/index.js";
import { createLogger, createRegistry, schedulerMetrics } from "../../../src/telemetry/index.js";
import { simulatedGpus } from "../../helpers/gpu-nodes.js";

function setup() {
  let now = Date.parse("2026-11-29T00:00:00Z");
  const view = new ClusterView({ now: () => now, registerStaleMs: 0, requireLease: false });
  for (const name of ["n1", "n2"])
    view.setNode({
      metadata: {
        name,
        annotations: { [Annotation.nodeRegister]: encodeNodeDevices(simulatedGpus(name, 1)) },
      },
    });
  const config = defaultConfig();
  const deps = {
    view,
    policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
    log: createLogger({ level: "silent" }),
    metrics: schedulerMetrics(createRegistry(false), () => []),
  };
  return { view, deps, advance: (ms: number) => (now += ms), at: () => now };
}

const pod = (uid: string, memory: number): Pod => ({
  metadata: { name: uid, namespace: "default", uid },
  spec: {
    containers: [
      {
        name: "c",
        resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": String(memory) } },
      },
    ],
  },
});

describe("extender - verdicts reused across pods of one shape", () => {
  it("a node that filled up since the last pod of the same shape is refused", () => {
    const { view, deps } = setup();
    const args = (uid: string) => ({ pod: pod(uid, 10_000), nodeNames: ["n1", "n2"] });
    const first = filter(args("a"), deps);
    assert.deepEqual(first.NodeNames, ["n1"], "the node policy decides: one node");
    assert.match(first.FailedNodes.n2 ?? "", /fits, but node policy ranks n1 first/);
    const slice = { uuid: "GPU-n1-0", type: "NVIDIA", memoryMiB: 10_000, cores: 0 };
    view.reserve({
      uid: "a",
      namespace: "default",
      name: "a",
      node: "n1",
      devices: [[slice]],
      usage: new Map([["GPU-n1-0", { slots: 1, memoryMiB: 10_000, cores: 0 }]]),
    });
    const second = filter(args("b"), deps);
    assert.deepEqual(second.NodeNames, ["n2"]);
    assert.match(second.FailedNodes.n1 ?? "", /CardInsufficientMemory/);
    view.unreserve("a");
    assert.deepEqual(filter(args("c"), deps).NodeNames, ["n1"]);
  });

  it("a Lease that runs out makes the node unavailable with no event in between", () => {
    const { view, deps, advance, at } = setup();
    view.setLease({
      metadata: { name: "hami-agent-n1" },
      spec: {
        renewTime: new Date(at()).toISOString() as unknown as Date,
        leaseDurationSeconds: 40,
      },
    });
    const args = (uid: string) => ({ pod: pod(uid, 100), nodeNames: ["n1", "n2"] });
    assert.deepEqual(filter(args("a"), deps).NodeNames, ["n1"]);
    advance(60_000);
    const later = filter(args("b"), deps);
    assert.deepEqual(later.NodeNames, ["n2"]);
    assert.match(later.FailedNodes.n1 ?? "", /agent Lease expired 20 s ago/);
    assert.deepEqual(
      prioritize(args("b"), deps).map((h) => h.Host),
      ["n1", "n2"],
    );
    assert.equal(prioritize(args("b"), deps)[0]?.Score, 0, "an unavailable node scores 0");
  });

  it("a different shape is computed afresh", () => {
    const { deps } = setup();
    assert.deepEqual(filter({ pod: pod("a", 100), nodeNames: ["n1"] }, deps).NodeNames, ["n1"]);
    assert.deepEqual(filter({ pod: pod("b", 20_000), nodeNames: ["n1"] }, deps).NodeNames, []);
  });
});

describe("extender - the node policy decides, and says so in HAMi's events", () => {
  it("filter answers only the top node, with FilteringSucceed; no fit is FilteringFailed", () => {
    const { view, deps } = setup();
    const half = { uuid: "GPU-n2-0", type: "NVIDIA", memoryMiB: 8000, cores: 0 };
    view.reserve({
      uid: "x",
      namespace: "default",
      name: "x",
      node: "n2",
      devices: [[half]],
      usage: new Map([["GPU-n2-0", { slots: 1, memoryMiB: 8000, cores: 0 }]]),
    });
    const events: { reason: string; message: string }[] = [];
    const withEvents = {
      ...deps,
      podEvent: (_: Pod, e: { reason: string; message: string }) => events.push(e),
    };
    const binpack = filter({ pod: pod("a", 1000), nodeNames: ["n1", "n2"] }, withEvents);
    assert.deepEqual(binpack.NodeNames, ["n2"], "binpack picks the half-used node, not the name");
    assert.match(binpack.FailedNodes.n1 ?? "", /fits, but node policy ranks n2 first/);
    assert.equal(events[0]?.reason, "FilteringSucceed");
    assert.match(
      events[0]?.message ?? "",
      /^find fit node\(n2\), 0 nodes not fit, 2 nodes fit\(n2:/,
    );
    const spread = pod("b", 1000);
    spread.metadata!.annotations = { "hami.io/node-scheduler-policy": "spread" };
    assert.deepEqual(filter({ pod: spread, nodeNames: ["n1", "n2"] }, withEvents).NodeNames, [
      "n1",
    ]);
    filter({ pod: pod("c", 90_000), nodeNames: ["n1", "n2"] }, withEvents);
    assert.equal(events.at(-1)?.reason, "FilteringFailed");
    assert.match(events.at(-1)?.message ?? "", /^no available node, 2 nodes do not meet: /);
  });
});

describe("extender - filter and prioritize agree with every node's full verdict", () => {
  it("over random nodes, holdings and pods of repeating shapes, memo or not", () => {
    // The memo answers from outcomes kept per node version and request shape; /explain computes
    // every verdict afresh. Both must name the same node and scores after any sequence of changes.
    const draw = random(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(draw() * items.length)] as T;
    // Filter ranks from the device table where it can (rows kept while the same nodes are sent),
    // and prioritize reuses filter's ranking while nothing changed: the same node list is sent
    // again and again, nodes go and come back, pods re-planned where they hold devices, and
    // changes land between filter and prioritize.
    const { view, deps } = setup();
    const names = Array.from({ length: 12 }, (_, i) => `m${String(i).padStart(2, "0")}`);
    const register = (name: string) => {
      view.setNode({
        metadata: {
          name,
          annotations: {
            [Annotation.nodeRegister]: encodeNodeDevices(
              simulatedGpus(name, 1 + Math.floor(draw() * 3)),
            ),
          },
        },
      });
    };
    names.forEach(register);
    const hold = (uid: string, node: string) => {
      const memory = pick([1_000, 6_000]);
      const slice = { uuid: `GPU-${node}-0`, type: "NVIDIA", memoryMiB: memory, cores: 0 };
      view.unreserve(uid);
      view.reserve({
        uid,
        namespace: "default",
        name: uid,
        node,
        devices: [[slice]],
        usage: new Map([[slice.uuid, { slots: 1, memoryMiB: memory, cores: 0 }]]),
      });
    };
    const shapes = [500, 4_000, 9_000, 15_000];
    const scores = (probe: Pod, sent: string[]) =>
      new Map(
        explainPod(probe, sent, deps).verdicts.map((v) => [
          v.node,
          v.fits ? extenderPriority(v.score) : 0,
        ]),
      );
    for (let round = 0; round < 400; round++) {
      hold(`held-${round % 20}`, pick(names));
      if (draw() < 0.05) view.removeNode(pick(names));
      if (draw() < 0.1) register(pick(names));
      const sent = draw() < 0.5 ? names : names.filter(() => draw() < 0.8);
      const uid = draw() < 0.2 ? `held-${Math.floor(draw() * 20)}` : `probe-${round}`;
      const probe = pod(uid, pick(shapes));
      if (draw() < 0.3) probe.metadata!.annotations = { "hami.io/node-scheduler-policy": "spread" };
      const { verdicts } = explainPod(probe, sent, deps);
      const top = verdicts[0];
      const chosen = filter({ pod: probe, nodeNames: sent }, deps).NodeNames;
      assert.deepEqual(chosen, top?.fits === true ? [top.node] : [], `round ${round}`);
      if (draw() < 0.3) hold(`held-${round % 20}`, pick(names));
      const expected = scores(probe, sent);
      for (const { Host, Score } of prioritize({ pod: probe, nodeNames: sent }, deps))
        assert.equal(Score, expected.get(Host), `round ${round}, ${Host}`);
    }
  });
});
