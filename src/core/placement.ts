// Placement of one pod over many nodes: fit on each, score the ones that fit, explain the rest.
// Pure and deterministic (ties go to the node name), shared by the extender's filter, prioritize,
// bind and explain, and by the placement benchmark.

import type { DeviceUsage, HostFree, PodDevices } from "./device.js";
import { rowPlan, type RowPlan } from "./device-table.js";
import { fitPod, type FitResult, type NodeState } from "./fit.js";
import { describeGPUPolicy, type GPUPolicy, type PodPreferences } from "./pod-annotations.js";
import type { PodRequest } from "./pod-request.js";
import { podQuotaUsage, quotaExceeded, type NamespaceQuota, type QuotaNames } from "./quota.js";
import { FitReason } from "./reasons.js";
import { nodeScorers, type NodeScorer, type ScoreInput } from "./score.js";
import type { Vendor } from "./vendor.js";

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
  /** Whose devices are placed (their capacity rules). */
  vendor: Vendor;
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

type Refusal = Extract<NodeVerdict, { fits: false }>;

interface Fitted {
  fits: true;
  result: Extract<FitResult, { fits: true }>;
  gpuPolicy: GPUPolicy;
  /** The node policy that scores the plan (it may also have chosen its devices). */
  scorer: NodeScorer;
}

/** Fit and quota on one node: the refusal, or the plan with the policies that apply. */
function fitNode(
  node: NodeCandidate,
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): Refusal | Fitted {
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
  const scorer = scorerFor(preferences.nodeSchedulerPolicy ?? policy.nodePolicy, policy);
  const result = fitPod(node, request, {
    gpuPolicy,
    preferences,
    vendor: policy.vendor,
    deviceCost: scorer.deviceCost,
  });
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
  return { fits: true, result, gpuPolicy, scorer };
}

function scoreInput(node: NodeCandidate, after: DeviceUsage[]): ScoreInput {
  return {
    devices: node.devices,
    before: node.usage,
    after,
    ...(node.host === undefined ? {} : { host: node.host }),
  };
}

/** Fit and score one pod on one node. */
export function evaluateNode(
  node: NodeCandidate,
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): NodeVerdict {
  const fitted = fitNode(node, request, preferences, policy);
  if (!fitted.fits) return fitted;
  const scored = fitted.scorer(scoreInput(node, fitted.result.after));
  return {
    node: node.name,
    fits: true,
    devices: fitted.result.devices,
    ...scored,
    reason: `${scored.reason}; GPUs by ${describeGPUPolicy(fitted.gpuPolicy)}`,
  };
}

/** What ranking many nodes needs of one: the score where the pod fits, else why not. */
export type NodeOutcome = { fits: true; score: number } | { fits: false; message: string };

/** evaluateNode's outcome without its reason text or plan (a scorer's `score` when it has one):
 * filter ranks every node and explains only the one it picks. */
export function rankNode(
  node: NodeCandidate,
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): NodeOutcome {
  const fitted = fitNode(node, request, preferences, policy);
  if (!fitted.fits) return { fits: false, message: fitted.message };
  const { scorer } = fitted;
  const input = scoreInput(node, fitted.result.after);
  return { fits: true, score: scorer.score?.(input) ?? scorer(input).score };
}

/** The plan for ranking the pod from the device table (device-table.ts) under the policies
 * rankNode would apply, or undefined when every node takes rankNode. */
export function rowPlanFor(
  request: PodRequest,
  preferences: PodPreferences,
  policy: PlacementPolicy,
): RowPlan | undefined {
  return rowPlan(request, preferences, {
    gpuPolicy: preferences.gpuSchedulerPolicy ?? policy.gpuPolicy,
    scorer: scorerFor(preferences.nodeSchedulerPolicy ?? policy.nodePolicy, policy),
    vendor: policy.vendor,
    quota: policy.quota !== undefined,
  });
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
