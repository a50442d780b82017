// Filter, prioritize and explain: decode -> core placement over the live view -> encode. Nothing is
// reserved here (DESIGN.md section 3: reserve at bind, not in filter). As in HAMi
// (pkg/scheduler/scheduler.go Filter), filter answers only the node the node policy ranks first, so
// binpack/spread/fgd decide the node whatever kube-scheduler's own score plugins prefer.

import {
  asksForDevices,
  compareVerdicts,
  evaluateNode,
  extenderPriority,
  HamiError,
  podRequest,
  quotaResourceNames,
  readPodPreferences,
  type NodeVerdict,
  type PlacementPolicy,
  type Pod,
  type PodPreferences,
  type PodRequest,
  type RequestDefaults,
} from "../core/index.js";
import type { PodEvent } from "../k8s/index.js";
import type { Logger, SchedulerMetrics } from "../telemetry/index.js";
import type { ExtenderArgs, ExtenderFilterResult, HostPriority } from "./protocol.js";
import type { ClusterView } from "./view.js";

export interface SchedulerPolicy {
  request: RequestDefaults;
  placement: PlacementPolicy;
}

export interface ExtenderDeps {
  view: ClusterView;
  /** Read per call, so a reloaded config applies to the next pod. */
  policy: () => SchedulerPolicy;
  log: Logger;
  metrics: SchedulerMetrics;
  /** Told when filter refuses nodes, so a later release can requeue the pod. */
  requeue?: { refused(): void };
  /** Records a pod Event with HAMi's reasons (FilteringSucceed, FilteringFailed), for alerting
   * written against HAMi. */
  podEvent?: (pod: Pod, event: PodEvent) => void;
}

export type PodDemand =
  | { kind: "devices"; request: PodRequest; preferences: PodPreferences }
  | { kind: "none" }
  | { kind: "invalid"; message: string };

/** What a pod asks, or why it cannot be read (a bad annotation or resource value). */
export function podDemand(pod: Pod, policy: SchedulerPolicy): PodDemand {
  try {
    const request = podRequest(pod, policy.request);
    if (!asksForDevices(request)) return { kind: "none" };
    const preferences = readPodPreferences(
      pod.metadata?.annotations,
      [],
      policy.placement.gpuPolicy,
    );
    return { kind: "devices", request, preferences };
  } catch (error) {
    if (error instanceof HamiError) return { kind: "invalid", message: error.message };
    throw error;
  }
}

/** The placement policy for one pod: the configured one, plus its namespace's GPU quota (its own
 * holding left out, so a re-plan at bind does not count it twice). */
export function placementFor(
  pod: Pod,
  policy: SchedulerPolicy,
  view: ClusterView,
): PlacementPolicy {
  const resources = quotaResourceNames(policy.request.resourceNames);
  const namespace = pod.metadata?.namespace ?? "default";
  const quota = view.quotas.quota(namespace, resources, pod.metadata?.uid);
  if (quota === undefined) return policy.placement;
  const check = { quota, names: { ...resources, memoryFactor: policy.request.memoryFactor } };
  return { ...policy.placement, quota: check };
}

export function podName(pod: Pod): string {
  return `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
}

/** Per node, the last few verdicts by request shape. A verdict depends only on the node (devices,
 * usage, liveness: its version in the view) and on the pod's request, preferences and the policy
 * (its shape), so consecutive pods of one shape (replicas of a Job or Deployment) and the prioritize
 * call that follows each filter recompute only the nodes that changed. */
const SHAPES_PER_NODE = 4;
interface Memo {
  version: number;
  shape: string;
  verdict: NodeVerdict;
}
const memos = new WeakMap<ClusterView, Map<string, Memo[]>>();

function memoFor(view: ClusterView): Map<string, Memo[]> {
  let memo = memos.get(view);
  if (memo === undefined) {
    memo = new Map();
    memos.set(view, memo);
  }
  return memo;
}

/** Every candidate node's verdict for a pod that asks for devices, best first. */
export function explainPod(
  pod: Pod,
  nodeNames: readonly string[],
  deps: ExtenderDeps,
): { demand: PodDemand; verdicts: NodeVerdict[] } {
  const policy = deps.policy();
  const demand = podDemand(pod, policy);
  if (demand.kind !== "devices") return { demand, verdicts: [] };
  const { view } = deps;
  const uid = pod.metadata?.uid ?? "";
  const placement = placementFor(pod, policy, view);
  const shape = JSON.stringify([demand.request, demand.preferences, placement]);
  const memo = memoFor(view);
  const verdicts = nodeNames.map((name) => {
    const candidate = view.candidate(name, uid);
    // Liveness is judged on every call (a Lease expires without any event); its own holdings make
    // a pod's node special.
    if (candidate.unavailable !== undefined || view.holds(uid, name))
      return evaluateNode(candidate, demand.request, demand.preferences, placement);
    const version = view.nodeVersion(name);
    const known = memo.get(name) ?? [];
    const hit = known.find((m) => m.version === version && m.shape === shape);
    if (hit !== undefined) return hit.verdict;
    const verdict = evaluateNode(candidate, demand.request, demand.preferences, placement);
    const fresh = known.filter((m) => m.version === version).slice(-(SHAPES_PER_NODE - 1));
    memo.set(name, [...fresh, { version, shape, verdict }]);
    return verdict;
  });
  return { demand, verdicts: verdicts.sort(compareVerdicts) };
}

type Fitting = Extract<NodeVerdict, { fits: true }>;

/** The node policy's first choice; every other node is refused, saying why. */
function narrow(verdicts: readonly NodeVerdict[]): {
  chosen: Fitting | undefined;
  fitting: Fitting[];
  failed: Record<string, string>;
} {
  const fitting = verdicts.filter((v): v is Fitting => v.fits);
  const chosen = fitting[0];
  const failed: Record<string, string> = {};
  for (const v of verdicts)
    if (!v.fits) failed[v.node] = v.message;
    else if (v !== chosen)
      failed[v.node] = `fits, but node policy ranks ${chosen?.node ?? ""} first (${v.reason})`;
  return { chosen, fitting, failed };
}

/** HAMi's FilteringSucceed / FilteringFailed, in HAMi's words (pkg/scheduler/scheduler.go). */
function filterEvent(
  verdicts: readonly NodeVerdict[],
  chosen: Fitting | undefined,
  fitting: readonly Fitting[],
): PodEvent {
  if (chosen === undefined) {
    const best = verdicts[0];
    const why = best !== undefined && !best.fits ? `: ${best.message}` : "";
    return {
      type: "Warning",
      reason: "FilteringFailed",
      message: `no available node, ${verdicts.length} nodes do not meet${why}`,
    };
  }
  const scores = fitting.map((v) => `${v.node}:${v.score.toFixed(2)}`).join(",");
  return {
    type: "Normal",
    reason: "FilteringSucceed",
    message: `find fit node(${chosen.node}), ${verdicts.length - fitting.length} nodes not fit, ${fitting.length} nodes fit(${scores})`,
  };
}

export function filter(args: ExtenderArgs, deps: ExtenderDeps): ExtenderFilterResult {
  const { demand, verdicts } = explainPod(args.pod, args.nodeNames, deps);
  const pod = podName(args.pod);
  if (demand.kind === "none")
    return {
      NodeNames: args.nodeNames,
      FailedNodes: {},
      FailedAndUnresolvableNodes: {},
      Error: "",
    };
  if (demand.kind === "invalid") {
    deps.log.warn({ pod, reason: demand.message }, "filter: pod request invalid");
    deps.podEvent?.(args.pod, {
      type: "Warning",
      reason: "FilteringFailed",
      message: demand.message,
    });
    const failed = Object.fromEntries(args.nodeNames.map((n) => [n, demand.message]));
    return { NodeNames: [], FailedNodes: {}, FailedAndUnresolvableNodes: failed, Error: "" };
  }
  const { chosen, fitting, failed } = narrow(verdicts);
  if (fitting.length < verdicts.length) deps.requeue?.refused();
  const best = verdicts[0];
  deps.log.info(
    {
      pod,
      fits: fitting.length,
      failed: verdicts.length - fitting.length,
      node: chosen?.node,
      reason: best === undefined ? "no candidate nodes" : best.fits ? best.reason : best.message,
    },
    "filter",
  );
  deps.podEvent?.(args.pod, filterEvent(verdicts, chosen, fitting));
  return {
    NodeNames: chosen === undefined ? [] : [chosen.node],
    FailedNodes: failed,
    FailedAndUnresolvableNodes: {},
    Error: "",
  };
}

export function prioritize(args: ExtenderArgs, deps: ExtenderDeps): HostPriority[] {
  const { verdicts } = explainPod(args.pod, args.nodeNames, deps);
  const scores = new Map(verdicts.map((v) => [v.node, v.fits ? extenderPriority(v.score) : 0]));
  return args.nodeNames.map((Host) => ({ Host, Score: scores.get(Host) ?? 0 }));
}
