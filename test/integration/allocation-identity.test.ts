// Allocation identity end to end: real kube-apiserver, real gRPC over unix sockets, the real
// binder with its bind guard, the node agent checking every Allocate answer against the kubelet's
// PodResources API, and an ADVERSARIAL SIMULATED kubelet (no real kubelet, no GPUs: mock devices)
// that admits pods in another order than they were created. With the guard, every container gets
// its own pod's limits and every answer is verified; without it, the check catches the mix-up.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { Annotation } from "../../src/core/index.js";
import type { NodeAgent } from "../../src/node/index.js";
import { createLogger, createRegistry } from "../../src/telemetry/index.js";
import { gpuPod, startAgentNode, type AgentNode } from "../helpers/agent-node.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import type { SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const missing = controlPlaneMissing();
const NODE = "identity-node";
const RESOURCE = "nvidia.com/gpu";
const GPUS = 13; // x split 4 = 52 slots: room for the 50-pod burst
const log = createLogger({ level: "silent" });

/** A seeded shuffle (mulberry32), so a failing order can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed;
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe(
  "allocation identity (adversarial simulated kubelet, PodResources check)",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let kubelet: SimulatedKubelet;
    let agent: NodeAgent;
    let node: AgentNode;
    let core: CoreV1Api;
    let kc: KubeConfig;
    const registry = createRegistry(false);

    /** Creates the pods (at once, or `apartMs` apart), then binds them all at once, as
     * kube-scheduler's parallel binds do. */
    async function burst(pods: V1Pod[], guard: boolean, apartMs = 0): Promise<void> {
      const created: V1Pod[] = [];
      if (apartMs === 0)
        created.push(
          ...(await Promise.all(
            pods.map((body) => core.createNamespacedPod({ namespace: "default", body })),
          )),
        );
      else
        for (const body of pods) {
          if (created.length > 0) await new Promise((resolve) => setTimeout(resolve, apartMs));
          created.push(await core.createNamespacedPod({ namespace: "default", body }));
        }
      const answers = await node.bindAll(created, guard);
      assert.deepEqual(
        answers.map((a) => a.Error),
        pods.map(() => ""),
      );
    }

    const limitOf = (name: string) => node.limitOf(name);
    const annotations = async (name: string) =>
      (await core.readNamespacedPod({ namespace: "default", name })).metadata?.annotations ?? {};
    const allRunning = (names: string[]) =>
      waitFor(
        `${names.length} pods admitted`,
        () => (names.every((n) => limitOf(n) !== undefined) ? true : undefined),
        60_000,
      );
    const removeAll = (names: string[]) => node.removeAll(names);

    before(async () => {
      plane = await startControlPlane();
      kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      node = await startAgentNode(
        kc,
        { kubeconfig: plane.kubeconfig, node: NODE, gpus: GPUS, split: 4 },
        { log, registry },
      );
      ({ kubelet, agent } = node);
    });

    after(async () => {
      await node?.stop();
      await plane?.stop();
    });

    for (const [label, order] of [
      ["reversed", (waiting: V1Pod[]) => [...waiting].reverse()],
      ["shuffled (seed 7)", (waiting: V1Pod[]) => shuffled(waiting, 7)],
    ] as const) {
      it(`50 same-shape pods in one burst, admitted ${label}: each container gets its own pod's limit, every answer verified`, async () => {
        const before = { ...agent.verified };
        kubelet.order = order;
        const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
        await burst(
          names.map((name, i) => gpuPod(name, 100 + i)),
          true,
        );
        await allRunning(names);
        for (const [i, name] of names.entries()) {
          assert.equal(limitOf(name), `${100 + i}m`, `${name} got another pod's limit`);
          assert.equal((await annotations(name))[Annotation.bindPhase], "success", name);
        }
        await waitFor("every answer checked", () =>
          agent.verified.match - before.match === 50 ? true : undefined,
        );
        assert.equal(agent.verified.mismatch, before.mismatch, "no mismatch");
        assert.equal(agent.verified.unverified, before.unverified);
        kubelet.order = undefined;
        await removeAll(names);
      });
    }

    it("50 same-shape pods, the kubelet relists in the middle of the burst: each container gets its own pod's limit", async () => {
      const before = { ...agent.verified };
      const names = Array.from({ length: 50 }, (_, i) => `relist-${i}`);
      const binding = burst(
        names.map((name, i) => gpuPod(name, 100 + i)),
        true,
      );
      await waitFor(
        "half of them admitted",
        () => (names.filter((n) => limitOf(n) !== undefined).length >= 25 ? true : undefined),
        60_000,
      );
      await kubelet.relist();
      await binding;
      await allRunning(names);
      for (const [i, name] of names.entries())
        assert.equal(limitOf(name), `${100 + i}m`, `${name} got another pod's limit`);
      await waitFor("every answer checked", () =>
        agent.verified.match - before.match === 50 ? true : undefined,
      );
      assert.equal(agent.verified.mismatch, before.mismatch, "no mismatch");
      await removeAll(names);
    });

    it("plain init containers are not checked (the kubelet does not list them), app containers are", async () => {
      const before = { ...agent.verified };
      const body = gpuPod("with-init", 300);
      body.spec!.initContainers = [
        {
          name: "init0",
          image: "cuda",
          resources: { limits: { [RESOURCE]: "1", "nvidia.com/gpumem": "200" } },
        },
      ];
      await burst([body], true);
      await allRunning(["with-init"]);
      await waitFor("the app container checked", () =>
        agent.verified.match - before.match === 1 ? true : undefined,
      );
      assert.deepEqual(
        [agent.verified.mismatch, agent.verified.unverified],
        [before.mismatch, before.unverified],
      );
      await removeAll(["with-init"]);
    });

    it("without the bind guard a reversing kubelet mixes two pods up: the check reports it, never silent", async () => {
      const before = agent.verified.mismatch;
      kubelet.holdAdmission();
      kubelet.order = (waiting) => [...waiting].reverse();
      // Created in different seconds: the agent and the kubelet both put mix-a first, and this
      // kubelet admits the reverse.
      await burst([gpuPod("mix-a", 700), gpuPod("mix-b", 900)], false, 1_100);
      // Both wait on the node, as far as the agent knows, before the kubelet admits either.
      await waitFor("the agent sees both pods waiting", () => {
        const pending = agent.allocator.pending().map((p) => p.name);
        return pending.includes("mix-a") && pending.includes("mix-b") ? true : undefined;
      });
      kubelet.resumeAdmission();
      await allRunning(["mix-a", "mix-b"]);
      kubelet.order = undefined;
      await waitFor("both mix-ups reported", () =>
        agent.verified.mismatch - before === 2 ? true : undefined,
      );
      assert.deepEqual(
        [limitOf("mix-a"), limitOf("mix-b")],
        ["900m", "700m"],
        "the kubelet admitted mix-b first and the agent served it mix-a's plan",
      );
      for (const name of ["mix-a", "mix-b"])
        assert.equal((await annotations(name))[Annotation.bindPhase], "failed", name);
      // Each pod's container got the other's: both pods carry the Event naming the other.
      for (const [name, other] of [
        ["mix-a", "mix-b"],
        ["mix-b", "mix-a"],
      ])
        await waitFor(`${name}'s AllocationMismatch Event`, async () =>
          (await core.listNamespacedEvent({ namespace: "default" })).items.find(
            (e) =>
              e.reason === "AllocationMismatch" &&
              e.involvedObject.name === name &&
              new RegExp(
                `container c0 was given devices \\S+ .* answered for default/${other} container c0`,
              ).test(e.message ?? ""),
          ),
        );
      assert.match(await registry.metrics(), /hami_allocation_mismatch_total 2/);
      await removeAll(["mix-a", "mix-b"]);
    });
  },
);
