// Replays a trace through the extender's own placement code (core evaluateNode: fit + score), the
// way Weng et al. evaluate GPU-sharing schedulers: workload inflation. Tasks are drawn at random
// (seeded) from the trace and arrive one by one, never leaving, until the GPUs they ask for reach
// `inflation` x the cluster's GPUs. We record the GPU allocation ratio as arrived demand grows,
// failed tasks, and the fragmentation left. CPU and host memory of nodes are respected.

import {
  evaluateNode,
  fgdScorer,
  nodeFragmentation,
  NO_USAGE,
  podRequest,
  readPodPreferences,
  type DeviceUsage,
  type GPUPolicy,
  type NodeScorer,
  type NodeVerdict,
  type PlacementPolicy,
  type PodPreferences,
  type PodDevices,
  type PodRequest,
  type RequestDefaults,
  type TaskClass,
  nvidia,
} from "../core/index.js";
import { taskPod, type SimNode, type SimTask } from "./trace.js";

export const POLICIES = ["binpack", "spread", "hami-default", "fgd"] as const;
export type SimPolicy = (typeof POLICIES)[number];

const MARKS = [50, 70, 90, 100, 110, 130];

export interface SimOptions {
  nodes: readonly SimNode[];
  tasks: readonly SimTask[];
  policy: SimPolicy;
  seed: number;
  /** Arrived GPU demand to stop at, as a fraction of the cluster's GPUs (default 1.3). */
  inflation?: number;
  requestDefaults: RequestDefaults;
  /** Reuse a verdict for a task of the same kind on a node in the same state (default true; it
   * changes no placement, only the run time). */
  verdictCache?: boolean;
}

export interface SimResult {
  policy: SimPolicy;
  seed: number;
  totalGpus: number;
  arrivedTasks: number;
  failedTasks: number;
  /** GPU allocation ratio (%) when arrived demand first reached each mark (% of capacity). */
  allocationAt: Record<string, number>;
  /** Arrived demand and allocation ratio (%) when the first GPU task could not be placed. */
  firstFailure?: { arrivedPercent: number; allocationPercent: number };
  /** GPUs left unallocated at the end, and how much of that is fragmentation for the workload. */
  unallocatedGpus: number;
  fragmentedGpus: number;
  fragmentationPercentOfFree: number;
  /** (arrived %, allocated %) every 1% of arrived demand, for the plot. */
  curve: [number, number][];
  runMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** The trace's GPU task classes by popularity, each with its median CPU and memory: the workload
 * FGD measures fragmentation against. */
export function taskClasses(tasks: readonly SimTask[]): TaskClass[] {
  const groups = new Map<string, SimTask[]>();
  for (const t of tasks) {
    if (t.gpus === 0) continue;
    const key = `${t.gpus}/${t.gpuMilli}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as SimTask;
    return {
      gpus: first.gpus,
      share: first.gpuMilli / 1000,
      weight: group.length,
      cpuMilli: median(group.map((t) => t.cpuMilli)),
      memoryMiB: median(group.map((t) => t.memoryMiB)),
    };
  });
}

/** Deterministic PRNG (mulberry32): the same seed draws the same tasks. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function placementFor(policy: SimPolicy, classes: readonly TaskClass[]): PlacementPolicy {
  const table: Record<SimPolicy, { node: string; gpu: GPUPolicy["order"] }> = {
    binpack: { node: "binpack", gpu: "binpack" },
    spread: { node: "spread", gpu: "spread" },
    "hami-default": { node: "binpack", gpu: "spread" },
    fgd: { node: "fgd", gpu: "binpack" },
  };
  const scorers: Record<string, NodeScorer> = { fgd: fgdScorer(classes) };
  const gpuPolicy = { order: table[policy].gpu, numa: false, mutex: false };
  return { nodePolicy: table[policy].node, gpuPolicy, scorers, vendor: nvidia };
}

interface NodeState {
  node: SimNode;
  cpuFree: number;
  memoryFree: number;
  usage: DeviceUsage[];
  /** Identifies the node's state for the verdict cache (same model and usage = same verdict). */
  key: string;
}

function stateKey(s: Omit<NodeState, "key">): string {
  const usage = s.usage.map((u) => `${u.slots},${u.memoryMiB},${u.cores}`).join(";");
  return `${s.node.model}|${s.node.devices.length}|${s.cpuFree}|${s.memoryFree}|${usage}`;
}

interface Prepared {
  task: SimTask;
  request: PodRequest;
  preferences: PodPreferences;
  /** Equal for tasks with equal verdicts on equal nodes: the GPU request, the model list, and the
   * CPU and memory (fgd scores the node's CPU and memory left after the task). */
  kindKey: string;
}

function percent(value: number, total: number): number {
  return Math.round((value / total) * 10_000) / 100;
}

/** Arrivals, failures and the allocation curve as demand grows. */
class Recorder {
  arrived = 0;
  arrivedTasks = 0;
  failedTasks = 0;
  firstFailure: SimResult["firstFailure"];
  readonly curve: [number, number][] = [];
  readonly allocationAt: Record<string, number> = {};
  private nextPoint = 1;
  private readonly cluster: Cluster;
  private readonly lastPoint: number;

  constructor(cluster: Cluster, inflation: number) {
    this.cluster = cluster;
    this.lastPoint = Math.round(100 * inflation);
  }

  arrive(task: SimTask, placed: boolean): void {
    const { totalGpus, allocatedGpus } = this.cluster;
    this.arrivedTasks++;
    this.arrived += (task.gpus * task.gpuMilli) / 1000;
    if (!placed) {
      this.failedTasks++;
      if (this.firstFailure === undefined && task.gpus > 0)
        this.firstFailure = {
          arrivedPercent: percent(this.arrived, totalGpus),
          allocationPercent: percent(allocatedGpus, totalGpus),
        };
    }
    const arrivedPercent = (this.arrived / totalGpus) * 100;
    while (this.nextPoint <= arrivedPercent && this.nextPoint <= this.lastPoint) {
      const allocated = percent(allocatedGpus, totalGpus);
      this.curve.push([this.nextPoint, allocated]);
      if (MARKS.includes(this.nextPoint)) this.allocationAt[String(this.nextPoint)] = allocated;
      this.nextPoint++;
    }
  }
}

class Cluster {
  readonly states: NodeState[];
  readonly totalGpus: number;
  allocatedGpus = 0;
  private readonly cache: Map<string, NodeVerdict> | undefined;
  private readonly placement: PlacementPolicy;
  /** Set under fgd: CPU-only tasks then also go where fragmentation grows least. */
  private readonly classes: readonly TaskClass[] | undefined;

  constructor(
    nodes: readonly SimNode[],
    placement: PlacementPolicy,
    options: { classes: readonly TaskClass[] | undefined; cache: boolean },
  ) {
    this.placement = placement;
    this.classes = options.classes;
    this.cache = options.cache ? new Map() : undefined;
    this.states = nodes.map((node) => {
      const base = {
        node,
        cpuFree: node.cpuMilli,
        memoryFree: node.memoryMiB,
        usage: node.devices.map(() => NO_USAGE),
      };
      return { ...base, key: stateKey(base) };
    });
    this.totalGpus = nodes.reduce((sum, n) => sum + n.devices.length, 0);
  }

  /** Places a task on the best node (core's verdicts; ties to the node name); false if none fits. */
  place(t: Prepared): boolean {
    const roomy = this.states.filter(
      (st) =>
        st.cpuFree >= t.task.cpuMilli &&
        st.memoryFree >= t.task.memoryMiB &&
        st.node.devices.length >= t.task.gpus,
    );
    return t.task.gpus === 0 ? this.placeCpuOnly(roomy, t) : this.placeGpu(roomy, t);
  }

  /** CPU-only tasks are not HAMi's: kube-scheduler's default places them (least requested CPU);
   * under fgd they go where GPU fragmentation grows least, as the paper's scheduler does. */
  private placeCpuOnly(roomy: NodeState[], t: Prepared): boolean {
    const cost = (st: NodeState): number => {
      if (this.classes === undefined) return -(st.cpuFree - t.task.cpuMilli) / st.node.cpuMilli;
      const node = (cpu: number, memory: number) => ({
        devices: st.node.devices,
        usage: st.usage,
        host: { cpuMilli: cpu, memoryMiB: memory },
      });
      const before = nodeFragmentation(node(st.cpuFree, st.memoryFree), this.classes);
      const after = nodeFragmentation(
        node(st.cpuFree - t.task.cpuMilli, st.memoryFree - t.task.memoryMiB),
        this.classes,
      );
      return after - before;
    };
    let best: { state: NodeState; cost: number } | undefined;
    for (const state of roomy) {
      const c = cost(state);
      if (
        best === undefined ||
        c < best.cost ||
        (c === best.cost && state.node.name < best.state.node.name)
      )
        best = { state, cost: c };
    }
    if (best === undefined) return false;
    this.apply(best.state, t, []);
    return true;
  }

  private placeGpu(roomy: NodeState[], t: Prepared): boolean {
    let best: { state: NodeState; verdict: Extract<NodeVerdict, { fits: true }> } | undefined;
    for (const state of roomy) {
      const verdict = this.verdict(state, t);
      if (!verdict.fits) continue;
      const better =
        best === undefined ||
        verdict.score > best.verdict.score ||
        (verdict.score === best.verdict.score && state.node.name < best.state.node.name);
      if (better) best = { state, verdict };
    }
    if (best === undefined) return false;
    this.apply(best.state, t, best.verdict.devices);
    return true;
  }

  private verdict(state: NodeState, t: Prepared): NodeVerdict {
    const key = `${t.kindKey}#${state.key}`;
    const cached = this.cache?.get(key);
    if (cached !== undefined) return cached;
    const host = {
      before: { cpuMilli: state.cpuFree, memoryMiB: state.memoryFree },
      after: {
        cpuMilli: state.cpuFree - t.task.cpuMilli,
        memoryMiB: state.memoryFree - t.task.memoryMiB,
      },
    };
    const verdict = evaluateNode(
      { name: state.node.name, devices: state.node.devices, usage: state.usage, host },
      t.request,
      t.preferences,
      this.placement,
    );
    if (this.cache === undefined) return verdict;
    if (this.cache.size > 400_000) this.cache.clear();
    this.cache.set(key, verdict);
    return verdict;
  }

  private apply(state: NodeState, t: Prepared, devices: PodDevices): void {
    state.cpuFree -= t.task.cpuMilli;
    state.memoryFree -= t.task.memoryMiB;
    // A cached verdict may come from another node in the same state: devices are matched by position.
    for (const slice of devices.flat()) {
      const i = devicePosition(slice.uuid);
      const u = state.usage[i] ?? NO_USAGE;
      state.usage[i] = {
        slots: u.slots + 1,
        memoryMiB: u.memoryMiB + slice.memoryMiB,
        cores: u.cores + slice.cores,
      };
    }
    state.key = stateKey(state);
    this.allocatedGpus += (t.task.gpus * t.task.gpuMilli) / 1000;
  }
}

/** Trace devices are named `<node>-gpu<i>` (trace.ts). */
function devicePosition(uuid: string): number {
  return Number(uuid.slice(uuid.lastIndexOf("-gpu") + 4));
}

export function simulate(options: SimOptions): SimResult {
  const started = performance.now();
  const classes = taskClasses(options.tasks);
  const cluster = new Cluster(options.nodes, placementFor(options.policy, classes), {
    classes: options.policy === "fgd" ? classes : undefined,
    cache: options.verdictCache ?? true,
  });
  const prepared: Prepared[] = options.tasks.map((task) => {
    const pod = taskPod(task);
    return {
      task,
      request: podRequest(pod, options.requestDefaults),
      preferences: readPodPreferences(pod.metadata?.annotations),
      kindKey: `${task.gpus}/${task.gpuMilli}/${task.spec.join("|")}/${task.cpuMilli}/${task.memoryMiB}`,
    };
  });
  const draw = random(options.seed);
  const inflation = options.inflation ?? 1.3;
  const record = new Recorder(cluster, inflation);
  while (record.arrived < inflation * cluster.totalGpus) {
    const t = prepared[Math.floor(draw() * prepared.length)];
    if (t === undefined) break;
    record.arrive(t.task, cluster.place(t));
  }
  const { arrivedTasks, failedTasks, firstFailure, curve, allocationAt } = record;
  const fragmented = cluster.states.reduce(
    (sum, s) =>
      sum +
      nodeFragmentation(
        {
          devices: s.node.devices,
          usage: s.usage,
          host: { cpuMilli: s.cpuFree, memoryMiB: s.memoryFree },
        },
        classes,
      ),
    0,
  );
  const unallocated = cluster.totalGpus - cluster.allocatedGpus;
  return {
    policy: options.policy,
    seed: options.seed,
    totalGpus: cluster.totalGpus,
    arrivedTasks,
    failedTasks,
    allocationAt,
    ...(firstFailure === undefined ? {} : { firstFailure }),
    unallocatedGpus: Math.round(unallocated * 100) / 100,
    fragmentedGpus: Math.round(fragmented * 100) / 100,
    fragmentationPercentOfFree: unallocated <= 0 ? 0 : percent(fragmented, unallocated),
    curve,
    runMs: Math.round(performance.now() - started),
  };
}
