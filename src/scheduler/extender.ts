// Filter, prioritize and explain: decode -> core placement over the live view -> encode. Nothing is
// reserved here (DESIGN.md section 3: reserve at bind, not in filter).

import {
  asksForDevices,
  evaluateNodes,
  extenderPriority,
  HamiError,
  podRequest,
  readPodPreferences,
  type NodeVerdict,
  type PlacementPolicy,
  type Pod,
  type PodPreferences,
  type PodRequest,
  type RequestDefaults,
} from "../core/index.js";
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
    return { kind: "devices", request, preferences: readPodPreferences(pod.metadata?.annotations) };
  } catch (error) {
    if (error instanceof HamiError) return { kind: "invalid", message: error.message };
    throw error;
  }
}

export function podName(pod: Pod): string {
  return `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
}

/** Every candidate node's verdict for a pod that asks for devices. */
export function explainPod(
  pod: Pod,
  nodeNames: readonly string[],
  deps: ExtenderDeps,
): { demand: PodDemand; verdicts: NodeVerdict[] } {
  const policy = deps.policy();
  const demand = podDemand(pod, policy);
  if (demand.kind !== "devices") return { demand, verdicts: [] };
  const exclude = pod.metadata?.uid;
  const candidates = nodeNames.map((name) => deps.view.candidate(name, exclude));
  const verdicts = evaluateNodes(candidates, demand.request, demand.preferences, policy.placement);
  return { demand, verdicts };
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
    const failed = Object.fromEntries(args.nodeNames.map((n) => [n, demand.message]));
    return { NodeNames: [], FailedNodes: {}, FailedAndUnresolvableNodes: failed, Error: "" };
  }
  const fits = verdicts.filter((v) => v.fits).map((v) => v.node);
  const failed: Record<string, string> = {};
  for (const v of verdicts) if (!v.fits) failed[v.node] = v.message;
  const best = verdicts[0];
  deps.log.info(
    {
      pod,
      fits: fits.length,
      failed: verdicts.length - fits.length,
      node: best?.fits === true ? best.node : undefined,
      reason: best === undefined ? "no candidate nodes" : best.fits ? best.reason : best.message,
    },
    "filter",
  );
  return { NodeNames: fits, FailedNodes: failed, FailedAndUnresolvableNodes: {}, Error: "" };
}

export function prioritize(args: ExtenderArgs, deps: ExtenderDeps): HostPriority[] {
  const { verdicts } = explainPod(args.pod, args.nodeNames, deps);
  const scores = new Map(verdicts.map((v) => [v.node, v.fits ? extenderPriority(v.score) : 0]));
  return args.nodeNames.map((Host) => ({ Host, Score: scores.get(Host) ?? 0 }));
}
