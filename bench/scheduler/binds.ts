// Binds per second through the extender's HTTP /bind against the real kube-apiserver of the test
// harness, with the bind guard (a bind waits while a pod the kubelet could confuse with it, the
// same device count per container, waits for its Allocate on that node) and without it.
// No kubelet and no node agent run here: every node has an agent Lease, and a SIMULATED Allocate
// records what the agent records once the kubelet's Allocate reached it (-to-allocate erased,
// bind-phase success) as soon as a bound pod is seen. So a guarded bind waits for the round trip
// bind -> watch -> Allocate patch -> watch, the least a real node could take.

import type { KubeConfig } from "@kubernetes/client-node";
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1Pod } from "@kubernetes/client-node";
import {
  AGENT_LEASE_PREFIX,
  Annotation,
  BindPhase,
  decodePodDevices,
  encodePodDevices,
} from "../../src/core/index.js";
import { podApi, startInformer } from "../../src/k8s/index.js";
import { ClusterView, createSchedulerApp, feedView } from "../../src/scheduler/index.js";
import { createSimulatedGpuNode, simulatedGpus } from "../../test/helpers/gpu-nodes.js";
import { benchDeps, log, onControlPlane, post, serve } from "./http.js";

interface Scenario {
  name: string;
  guard: boolean;
  nodes: string[];
  /** GPUs per pod, in turn: [1] is one shape, [1, 2, 3, 4] four shapes. */
  shapes: number[];
  pods: number;
}

const SPREAD = Array.from({ length: 20 }, (_, i) => `bind-node-${i}`);
const ONE = ["bind-node-one"];
const CONCURRENCY = 8;

const SCENARIOS: Scenario[] = [
  { name: "20 nodes, one shape, guard off", guard: false, nodes: SPREAD, shapes: [1], pods: 400 },
  { name: "20 nodes, one shape, guard on", guard: true, nodes: SPREAD, shapes: [1], pods: 400 },
  { name: "one node, one shape, guard off", guard: false, nodes: ONE, shapes: [1], pods: 60 },
  { name: "one node, one shape, guard on", guard: true, nodes: ONE, shapes: [1], pods: 60 },
  {
    name: "one node, four shapes (1-4 GPUs), guard on",
    guard: true,
    nodes: ONE,
    shapes: [1, 2, 3, 4],
    pods: 60,
  },
];

/** Records, for every bound pod still allocating, what the node agent records after Allocate. */
function simulatedAllocate(kc: KubeConfig) {
  const api = podApi(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const done = new Set<string>();
  const allocate = (pod: V1Pod): void => {
    const annotations = pod.metadata?.annotations ?? {};
    const uid = pod.metadata?.uid ?? "";
    const plan = annotations[Annotation.devicesToAllocate];
    if (pod.spec?.nodeName === undefined || plan === undefined || done.has(uid)) return;
    if (annotations[Annotation.bindPhase] !== BindPhase.allocating) return;
    done.add(uid);
    const served = decodePodDevices(plan, Annotation.devicesToAllocate).map(() => []);
    void api.annotatePod(
      { namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "" },
      {
        [Annotation.devicesToAllocate]: encodePodDevices(served),
        [Annotation.bindPhase]: BindPhase.success,
      },
    );
  };
  return startInformer<V1Pod>(
    kc,
    { path: "/api/v1/pods", list: () => core.listPodForAllNamespaces() },
    { add: allocate, update: allocate },
  );
}

async function runScenario(kc: KubeConfig, view: ClusterView, scenario: Scenario, index: number) {
  const core = kc.makeApiClient(CoreV1Api);
  const server = await serve(
    createSchedulerApp({
      ...benchDeps(view, podApi(kc)),
      ...(scenario.guard ? {} : { allocateWait: { waitMs: 0, expiryMs: 0 } }),
    }),
  );
  const pods: V1Pod[] = await Promise.all(
    Array.from({ length: scenario.pods }, (_, i) => {
      const gpus = scenario.shapes[i % scenario.shapes.length] ?? 1;
      const limits = { "nvidia.com/gpu": String(gpus), "nvidia.com/gpumem": "1000" };
      return core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: `bind-${index}-${i}` },
          spec: { containers: [{ name: "c", image: "cuda", resources: { limits } }] },
        },
      });
    }),
  );
  let next = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < pods.length) {
        const i = next++;
        const pod = pods[i];
        const body = JSON.stringify({
          PodName: pod?.metadata?.name,
          PodNamespace: "default",
          PodUID: pod?.metadata?.uid,
          Node: scenario.nodes[i % scenario.nodes.length],
        });
        const answer = JSON.parse(await post(server.port, "/bind", body)) as { Error: string };
        if (answer.Error !== "") failed++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  server.close();
  await core.deleteCollectionNamespacedPod({ namespace: "default", gracePeriodSeconds: 0 });
  const settled = Date.now() + 30_000;
  while (scenario.nodes.some((node) => view.holders(node).length > 0) && Date.now() < settled)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return {
    scenario: scenario.name,
    guard: scenario.guard,
    nodes: scenario.nodes.length,
    shapes_gpus: scenario.shapes,
    pods: scenario.pods,
    concurrency: CONCURRENCY,
    failed,
    seconds: Math.round(seconds * 100) / 100,
    binds_per_s: Math.round((scenario.pods / seconds) * 10) / 10,
  };
}

/** The ceiling on this machine: the same number of Bindings (no annotations) sent straight to the
 * apiserver, 8 at once, with no extender between; the view's informers still watch. */
async function bindingsOnly(kc: KubeConfig): Promise<Record<string, unknown>> {
  const core = kc.makeApiClient(CoreV1Api);
  const count = SCENARIOS[0]?.pods ?? 400;
  const pods = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: `plain-${i}` },
          spec: { containers: [{ name: "c", image: "x" }] },
        },
      }),
    ),
  );
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < pods.length) {
        const i = next++;
        const name = pods[i]?.metadata?.name ?? "";
        await core.createNamespacedPodBinding({
          namespace: "default",
          name,
          body: {
            metadata: { name },
            target: { kind: "Node", apiVersion: "v1", name: SPREAD[i % SPREAD.length] ?? "" },
          },
        });
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await core.deleteCollectionNamespacedPod({ namespace: "default", gracePeriodSeconds: 0 });
  return {
    pods: count,
    concurrency: CONCURRENCY,
    seconds: Math.round(seconds * 100) / 100,
    binds_per_s: Math.round((count / seconds) * 10) / 10,
  };
}

export function bindThroughput(): Promise<Record<string, unknown>> {
  return onControlPlane(async (kc) => {
    const core = kc.makeApiClient(CoreV1Api);
    const leases = kc.makeApiClient(CoordinationV1Api);
    for (const node of [...SPREAD, ...ONE]) {
      const gpus = node === ONE[0] ? 16 : 8;
      await createSimulatedGpuNode(
        core,
        node,
        simulatedGpus(node, gpus, { splitCount: 10, memoryMiB: 80_000 }),
      );
      await leases.createNamespacedLease({
        namespace: "kube-system",
        body: {
          metadata: { name: `${AGENT_LEASE_PREFIX}${node}` },
          spec: { holderIdentity: node, leaseDurationSeconds: 3600, renewTime: new V1MicroTime() },
        },
      });
    }
    const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: true });
    const feed = feedView(kc, view, { leaseNamespace: "kube-system", log });
    const allocations = simulatedAllocate(kc);
    await Promise.all([feed.synced, allocations.synced]);
    const results = [];
    for (const [index, scenario] of SCENARIOS.entries())
      results.push(await runScenario(kc, view, scenario, index));
    const ceiling = await bindingsOnly(kc);
    await allocations.stop();
    await feed.stop();
    return {
      note: "each node has an agent Lease; a simulated Allocate (no kubelet, no agent) answers every bound pod as soon as it is seen, so the guard's wait is the bind -> Allocate -> view round trip",
      scenarios: results,
      apiserver_bindings_only: ceiling,
    };
  });
}
