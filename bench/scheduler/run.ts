// Scheduler benchmark. (1) filter + prioritize for one pod over 100, 1,000 and 5,000 nodes with 8
// GPUs each, half full, both as direct calls of the extender functions and through the HTTP service
// (JSON in and out over loopback keep-alive, as kube-scheduler calls it). (2) binds per second
// through the HTTP service against the real kube-apiserver of the test harness, with the bind guard
// and without (binds.ts). (3) pods/s end to end through the real kube-scheduler and `hami scheduler`,
// beside kube-scheduler binding pods without GPUs (e2e.ts). (2) and (3) are skipped with a note when
// the control plane is not built. Prints one JSON document.

import { cpus } from "node:os";
import {
  Annotation,
  encodeNodeDevices,
  encodePodDevices,
  type ContainerDevice,
  type Device,
} from "../../src/core/index.js";
import type { PodApi } from "../../src/k8s/index.js";
import {
  ClusterView,
  createSchedulerApp,
  filter,
  prioritize,
  type ExtenderArgs,
} from "../../src/scheduler/index.js";
import { bindThroughput } from "./binds.js";
import { endToEnd } from "./e2e.js";
import { agent, benchDeps, post, serve } from "./http.js";

const GPUS = 8;
const SIZES = [100, 1_000, 5_000];

function gpus(node: string): Device[] {
  return Array.from({ length: GPUS }, (_, index) => ({
    uuid: `GPU-${node}-${index}`,
    index,
    type: index % 2 === 0 ? "NVIDIA-A100-SXM4-40GB" : "NVIDIA-Tesla-T4",
    memoryMiB: 40_000,
    cores: 100,
    splitCount: 10,
    numa: index < GPUS / 2 ? 0 : 1,
    mode: "hami-core",
    healthy: true,
  }));
}

/** A view of `count` nodes whose GPUs are half full: 5 of 10 slices, half the memory and cores. */
function halfFullView(count: number): { view: ClusterView; names: string[] } {
  const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: false });
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    const name = `node-${String(n).padStart(5, "0")}`;
    names.push(name);
    const devices = gpus(name);
    view.setNode({
      metadata: { name, annotations: { [Annotation.nodeRegister]: encodeNodeDevices(devices) } },
    });
    for (let p = 0; p < 5; p++) {
      const slices: ContainerDevice[] = devices.map((d) => ({
        uuid: d.uuid,
        type: "NVIDIA",
        memoryMiB: 4_000,
        cores: 10,
      }));
      view.setPod({
        metadata: {
          uid: `${name}-pod-${p}`,
          name: `${name}-pod-${p}`,
          namespace: "bench",
          annotations: {
            [Annotation.vgpuNode]: name,
            [Annotation.devicesToAllocate]: encodePodDevices([slices]),
          },
        },
        spec: { nodeName: name, containers: [{ name: "c" }] },
        status: { phase: "Running" },
      });
    }
  }
  return { view, names };
}

/** Replicas: every pod asks the same; distinct: every pod asks a different amount of memory. */
type Stream = "replicas" | "distinct";

/** A fresh pod each time (its own uid), as kube-scheduler sends one pod after another. */
function benchPod(i: number, stream: Stream): ExtenderArgs["pod"] {
  const memory = stream === "replicas" ? 6000 : 5000 + (i % 2000);
  const limits = {
    "nvidia.com/gpu": "2",
    "nvidia.com/gpumem": String(memory),
    "nvidia.com/gpucores": "20",
  };
  return {
    metadata: {
      name: `probe-${i}`,
      namespace: "bench",
      uid: `probe-uid-${i}`,
      annotations: { "nvidia.com/use-gputype": "A100" },
    },
    spec: { containers: [{ name: "c", resources: { limits } }] },
  };
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

function summary(samples: number[]): { p50_ms: number; p99_ms: number; mean_ms: number } {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return {
    p50_ms: round(percentile(samples, 50)),
    p99_ms: round(percentile(samples, 99)),
    mean_ms: round(mean),
  };
}

/** Filter and prioritize never touch the API; this one says so if they ever do. */
const noApi: PodApi = {
  readPod: () => Promise.reject(new Error("filter must not call the API")),
  annotatePod: () => Promise.reject(new Error("filter must not call the API")),
  bindPod: () => Promise.reject(new Error("filter must not call the API")),
  recordEvent: () => Promise.reject(new Error("filter must not call the API")),
};

/** Between two pods one node changes, as the previous pod's bind would change it. */
function bindSomewhere(view: ClusterView, names: string[], i: number): void {
  const node = names[(i * 7919) % names.length] ?? "";
  const slice = { uuid: `GPU-${node}-0`, type: "NVIDIA", memoryMiB: 10, cores: 0 };
  view.reserve({
    uid: `bound-${i}`,
    namespace: "bench",
    name: `bound-${i}`,
    node,
    devices: [[slice]],
    usage: new Map([[slice.uuid, { slots: 1, memoryMiB: 10, cores: 0 }]]),
  });
  view.unreserve(`bound-${i}`);
}

/** How many nodes kube-scheduler sends the extender when every node passes its own filters: its
 * adaptive percentageOfNodesToScore (pkg/scheduler/schedule_one.go numFeasibleNodesToFind,
 * v1.36: 50 - nodes/125 percent, at least 5%, at least 100 nodes). */
function feasibleNodesToFind(nodes: number): number {
  if (nodes < 100) return nodes;
  const percentage = Math.max(5, 50 - Math.trunc(nodes / 125));
  return Math.max(100, Math.trunc((nodes * percentage) / 100));
}

/** Filter, then prioritize, on `names(i)` for each pod; one node changes between pods. */
function directLatency(
  d: ReturnType<typeof benchDeps>,
  stream: Stream,
  names: (i: number) => string[],
  iterations: number,
) {
  const { view } = d;
  const args = (i: number): ExtenderArgs => ({ pod: benchPod(i, stream), nodeNames: names(i) });
  for (let i = 0; i < 10; i++) {
    filter(args(-i - 1), d);
    prioritize(args(-i - 1), d);
  }
  const both: number[] = [];
  const filterOnly: number[] = [];
  let fits = 0;
  for (let i = 0; i < iterations; i++) {
    bindSomewhere(view, names(0), i);
    const start = performance.now();
    fits = filter(args(i), d).NodeNames.length;
    const filtered = performance.now();
    prioritize(args(i), d);
    both.push(performance.now() - start);
    filterOnly.push(filtered - start);
  }
  return { fits, filter_prioritize: summary(both), filter: summary(filterOnly) };
}

async function filterLatency(count: number, stream: Stream) {
  const { view, names } = halfFullView(count);
  const d = benchDeps(view, noApi);
  const iterations = count >= 5_000 ? 100 : count >= 1_000 ? 200 : 500;
  const full = directLatency(d, stream, () => names, iterations);
  // kube-scheduler starts each pod's search where the last one stopped, so the share rotates.
  const share = feasibleNodesToFind(count);
  const window = (i: number): string[] => {
    const from = (i * share) % count;
    return [
      ...names.slice(from, from + share),
      ...names.slice(0, Math.max(0, from + share - count)),
    ];
  };
  const shared = directLatency(d, stream, window, iterations);
  const server = await serve(createSchedulerApp(d));
  const body = (i: number) =>
    JSON.stringify({ Pod: benchPod(i, stream), Nodes: null, NodeNames: names });
  for (let i = 0; i < 5; i++) await post(server.port, "/filter", body(100_000 + i));
  const http: number[] = [];
  for (let i = 0; i < iterations; i++) {
    bindSomewhere(view, names, 200_000 + i);
    const text = body(200_000 + i);
    const start = performance.now();
    await post(server.port, "/filter", text);
    await post(server.port, "/prioritize", text);
    http.push(performance.now() - start);
  }
  server.close();
  return {
    nodes: count,
    gpus: count * GPUS,
    stream,
    fitting_nodes: full.fits,
    iterations,
    direct: full.filter_prioritize,
    direct_filter_only: full.filter,
    http: summary(http),
    share_of_nodes: { nodes_sent: share, direct: shared.filter_prioritize },
  };
}

const filterResults = [];
for (const stream of ["distinct", "replicas"] as const)
  for (const size of SIZES) filterResults.push(await filterLatency(size, stream));
const distinct = filterResults.filter((r) => r.stream === "distinct");
const ratio = (distinct.at(-1)?.direct.mean_ms ?? 0) / (distinct[0]?.direct.mean_ms ?? 1);
const binds = await bindThroughput();
const e2e = await endToEnd();
agent.destroy();
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: "scheduler",
      machine: { cpus: cpus().length, node: process.version },
      pod: "2 GPUs x 20% cores, use-gputype A100 (half of each node's GPUs); distinct: 5000..6999 MiB, a new shape every pod; replicas: 6000 MiB every pod; one node changes between pods",
      measures:
        "direct: filter then prioritize over every node, as function calls (prioritize right after filter for the same pod and nodes reuses filter's ranking while the view is unchanged); direct_filter_only: filter alone (kube-scheduler skips prioritize when the filter leaves one node, schedule_one.go); http: both over loopback JSON; share_of_nodes: filter then prioritize over the nodes kube-scheduler sends when all pass its own filters (adaptive percentageOfNodesToScore)",
      nodes_half_full: "each GPU: 5 of 10 slices, 20000 of 40000 MiB, 50% cores",
      filter_prioritize: filterResults,
      cost_growth: {
        nodes_ratio: SIZES.at(-1)! / SIZES[0]!,
        time_ratio_direct: Math.round(ratio * 10) / 10,
      },
      bind_http: binds,
      end_to_end: e2e,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
