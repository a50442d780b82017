// Binds per second through the extender's HTTP /bind against the real kube-apiserver of the test
// harness, with the bind guard (a bind waits while a pod the kubelet could confuse with it, the
// same device count per container, waits for its Allocate on that node) and without it.
// No kubelet and no node agent run here: every node has an agent Lease, and a SIMULATED Allocate
// records what the agent records once the kubelet's Allocate reached it (-to-allocate erased,
// bind-phase success) as soon as a bound pod is seen. So a guarded bind waits for the round trip
// bind -> watch -> Allocate patch -> watch, the least a real node could take.

import { get as httpsGet, type RequestOptions } from "node:https";
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

/** Writes (POST, PUT, PATCH, DELETE) the apiserver has served since it started, from its own
 * apiserver_request_total. */
async function apiWrites(kc: KubeConfig): Promise<number> {
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const url = `${kc.getCurrentCluster()?.server ?? ""}/metrics`;
  const text = await new Promise<string>((resolve, reject) => {
    httpsGet(url, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve(body);
      });
    }).on("error", reject);
  });
  let writes = 0;
  for (const line of text.split("\n"))
    if (line.startsWith("apiserver_request_total{") && /verb="(POST|PUT|PATCH|DELETE)"/.test(line))
      writes += Number(line.slice(line.lastIndexOf(" ") + 1));
  return writes;
}

/** Writes per pod while `run` binds `pods` pods, counted until the writes that follow each bind
 * (the pod Event, the simulated Allocate's record) have landed. */
async function writesPerPod(kc: KubeConfig, pods: number, run: () => Promise<void>) {
  const before = await apiWrites(kc);
  await run();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  return Math.round((((await apiWrites(kc)) - before) / pods) * 100) / 100;
}

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
  let seconds = 0;
  const writes = await writesPerPod(kc, pods.length, async () => {
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
    seconds = (performance.now() - start) / 1000;
  });
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
    api_writes_per_pod: writes,
  };
}

/** The ceiling on this machine: the same number of Bindings (no annotations) sent straight to the
 * apiserver, 8 at once, with no extender between; the view's informers still watch. */
async function bindingsOnly(kc: KubeConfig) {
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
  let seconds = 0;
  const writes = await writesPerPod(kc, count, async () => {
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
    seconds = (performance.now() - start) / 1000;
  });
  await core.deleteCollectionNamespacedPod({ namespace: "default", gracePeriodSeconds: 0 });
  return {
    pods: count,
    concurrency: CONCURRENCY,
    seconds: Math.round(seconds * 100) / 100,
    binds_per_s: Math.round((count / seconds) * 10) / 10,
    api_writes_per_pod: writes,
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
    const first = results[0];
    return {
      note: "each node has an agent Lease; a simulated Allocate (no kubelet, no agent) answers every bound pod as soon as it is seen, so the guard's wait is the bind -> Allocate -> view round trip; api_writes_per_pod: POST/PUT/PATCH/DELETE the apiserver served per pod (its apiserver_request_total), until 2 s after the last bind",
      scenarios: results,
      apiserver_bindings_only: ceiling,
      ceiling_binds_per_s: {
        estimate: Math.round((ceiling.binds_per_s / (first?.api_writes_per_pod ?? 1)) * 10) / 10,
        how: "apiserver_bindings_only.binds_per_s (one write per pod) divided by the first scenario's api_writes_per_pod: the binds/s the apiserver allows when each of a GPU pod's writes costs what a Binding costs",
      },
    };
  });
}
