// Placement of one pod over many nodes: fit on each, score the ones that fit, explain the rest.
// Pure and deterministic (ties go to the node name), shared by the extender's filter, prioritize,
// bind and explain, and by the placement benchmark.

import type { HostFree, PodDevices } from "./device.js";
import { fitPod, type NodeState } from "./fit.js";
import { describeGPUPolicy, type GPUPolicy, type PodPreferences } from "./pod-annotations.js";
import type { PodRequest } from "./pod-request.js";
import { podQuotaUsage, quotaExceeded, type NamespaceQuota, type QuotaNames } from "./quota.js";
import { FitReason } from "./reasons.js";
import { nodeScorers, type NodeScorer } from "./score.js";

export interface NodeCandidate extends NodeState {
  /** Set when the node must not get pods (agent gone, stale registration); says why. */
  unavailable?: string;
  /** CPU and memory free before and after placing the pod, for scorers that weigh them. */
  host?: { before: HostFree; after: HostFree };
}

export interface PlacementPolicy {
  /** Defaults from config; the pod's annotations override them. */
  nodePolicy: string;
  gpuPolicy: GPUPolicy;
  /** Extra node policies by name, next to binpack and spread. */
  scorers?: Readonly<Record<string, NodeScorer>>;
  /** The pod's namespace quota, when it has one. */
  quota?: QuotaCheck;
}

export type NodeVerdict =
  | { node: string; fits: true; devices: PodDevices; score: number; reason: string }
  | {
      node: string;
      fits: false;
      reason: FitReason;
      message: string;
      counts: Partial<Record<FitReason, number>>;
    };

export function scorerFor(name: string, policy: PlacementPolicy): NodeScorer {
  const scorer = policy.scorers?.[name] ?? nodeScorers[name];
  if (scorer === undefined)
    throw new Error(`unknown node scheduler policy ${JSON.stringify(name)}`);
  return scorer;
}

/** The pod's namespace quota, checked on the MiB resolved against the devices chosen. */
export interface QuotaCheck {
  quota: NamespaceQuota;
  names: QuotaNames;
}

/** Fit and score one pod on one node. */
export function evaluateNode(
  node: NodeCandidate,
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): NodeVerdict {
  const { quota } = policy;
  if (node.unavailable !== undefined)
    return {
      node: node.name,
      fits: false,
      reason: FitReason.NodeUnavailable,
      message: `${FitReason.NodeUnavailable}: ${node.unavailable}`,
      counts: {},
    };
  const gpuPolicy = preferences.gpuSchedulerPolicy ?? policy.gpuPolicy;
  const result = fitPod(node, request, { gpuPolicy, preferences });
  if (!result.fits) return { node: node.name, ...result };
  const overQuota =
    quota === undefined
      ? undefined
      : quotaExceeded(
          quota.quota,
          podQuotaUsage(result.devices, request.initContainers),
          quota.names,
        );
  if (overQuota !== undefined)
    return {
      node: node.name,
      fits: false,
      reason: FitReason.ResourceQuotaNotFit,
      message: overQuota,
      counts: {},
    };
  const nodePolicy = preferences.nodeSchedulerPolicy ?? policy.nodePolicy;
  const scored = scorerFor(
    nodePolicy,
    policy,
  )({
    devices: node.devices,
    before: node.usage,
    after: result.after,
    ...(node.host === undefined ? {} : { host: node.host }),
  });
  return {
    node: node.name,
    fits: true,
    devices: result.devices,
    ...scored,
    reason: `${scored.reason}; GPUs by ${describeGPUPolicy(gpuPolicy)}`,
  };
}

/** Fitting nodes first, best score first, then by name. */
export function compareVerdicts(a: NodeVerdict, b: NodeVerdict): number {
  if (a.fits !== b.fits) return a.fits ? -1 : 1;
  const byScore = a.fits && b.fits ? b.score - a.score : 0;
  return byScore || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
}

/** Every node's verdict, in compareVerdicts order. */
export function evaluateNodes(
  nodes: readonly NodeCandidate[],
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): NodeVerdict[] {
  return nodes
    .map((node) => evaluateNode(node, request, preferences, policy))
    .sort(compareVerdicts);
}
