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
  rankNode,
  judgeRow,
  rowPlanFor,
  type NodeCandidate,
  type NodeOutcome,
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
import { sameNames } from "./node-rows.js";
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

/** The shape of a pod's demand under its placement policy: equal shapes, equal verdicts on an
 * unchanged node. */
function shapeOf(
  demand: Extract<PodDemand, { kind: "devices" }>,
  placement: PlacementPolicy,
): string {
  return JSON.stringify([demand.request, demand.preferences, placement]);
}

/** Every candidate node's verdict for a pod that asks for devices, best first (for people:
 * /explain, the page; filter and prioritize use rankPod). */
export function explainPod(
  pod: Pod,
  nodeNames: readonly string[],
  deps: ExtenderDeps,
): { demand: PodDemand; verdicts: NodeVerdict[] } {
  const policy = deps.policy();
  const demand = podDemand(pod, policy);
  if (demand.kind !== "devices") return { demand, verdicts: [] };
  const uid = pod.metadata?.uid ?? "";
  const placement = placementFor(pod, policy, deps.view);
  const verdicts = nodeNames.map((name) =>
    evaluateNode(deps.view.candidate(name, uid), demand.request, demand.preferences, placement),
  );
  return { demand, verdicts: verdicts.sort(compareVerdicts) };
}

type Fitting = Extract<NodeVerdict, { fits: true }>;

/** What filter and prioritize need of one pod over the nodes kube-scheduler sent, aligned with
 * them: the score where the node fits (NaN where not) and why not; the node policy's first choice. */
interface Ranking {
  demand: PodDemand;
  scores: Float64Array;
  messages: (string | undefined)[];
  fits: number;
  /** The first choice's full verdict (devices, reason), computed again for it alone. */
  best: Fitting | undefined;
  /** Where the first refused node by name is, or -1 (FilteringFailed quotes it). */
  firstRefused: number;
}

/** Better by the node policy: higher score, then lower name (compareVerdicts' order). */
function ranksAbove(score: number, name: string, bestScore: number, bestName: string): boolean {
  return score > bestScore || (score === bestScore && name < bestName);
}

/** How one node is judged for a pod (its score, or why it is refused): from the device table where
 * the pod and the node allow (core's device-table.ts: numbers, nothing allocated where it fits), else
 * from the memo when neither the node nor the shape changed, else from core's rankNode. */
function judgeFor(
  view: ClusterView,
  pod: { uid: string; nodeNames: readonly string[]; shape: string },
  demand: Extract<PodDemand, { kind: "devices" }>,
  placement: PlacementPolicy,
): (name: string, i: number) => number | string {
  const { uid, nodeNames, shape } = pod;
  const rank = (candidate: NodeCandidate): NodeOutcome =>
    rankNode(candidate, demand.request, demand.preferences, placement);
  const memo = memoFor(view).forShape(shape);
  const general = (name: string): number | string => {
    const outcome = nodeOutcome(name, uid, memo, rank);
    return outcome.fits ? outcome.score : outcome.message;
  };
  const plan = rowPlanFor(demand.request, demand.preferences, placement);
  if (plan === undefined) return general;
  const table = view.rows.table(placement.vendor);
  const ready = view.rows.ready(table, nodeNames, uid);
  return (name, i) => {
    const row = ready(i);
    return (row < 0 ? undefined : judgeRow(table, row, plan)) ?? general(name);
  };
}

/** The last pod ranked over a view: prioritize follows filter for the same pod, and while nothing
 * in the view changed and the same nodes are sent, the ranking is the same. */
interface Ranked {
  uid: string;
  generation: number;
  shape: string;
  nodeNames: readonly string[];
  ranking: Ranking;
}
const lastRanked = new WeakMap<ClusterView, Ranked>();

function emptyRanking(demand: PodDemand, count: number): Ranking {
  return {
    demand,
    scores: new Float64Array(count).fill(Number.NaN),
    messages: new Array<string | undefined>(count),
    fits: 0,
    best: undefined,
    firstRefused: -1,
  };
}

/** One pod over many nodes with nothing retained per request but two arrays (judgeFor); only the
 * chosen node's verdict object outlives the loop. */
function rankPod(pod: Pod, nodeNames: readonly string[], deps: ExtenderDeps): Ranking {
  const policy = deps.policy();
  const demand = podDemand(pod, policy);
  if (demand.kind !== "devices") return emptyRanking(demand, nodeNames.length);
  const { view } = deps;
  const uid = pod.metadata?.uid ?? "";
  const placement = placementFor(pod, policy, view);
  const shape = shapeOf(demand, placement);
  const { generation } = view;
  const last = lastRanked.get(view);
  if (
    last?.uid === uid &&
    last.generation === generation &&
    last.shape === shape &&
    sameNames(last.nodeNames, nodeNames)
  )
    return last.ranking;
  const ranking = emptyRanking(demand, nodeNames.length);
  const bestAt = scan(
    ranking,
    nodeNames,
    judgeFor(view, { uid, nodeNames, shape }, demand, placement),
  );
  if (bestAt >= 0) {
    const candidate = view.candidate(nodeNames[bestAt] ?? "", uid);
    const verdict = evaluateNode(candidate, demand.request, demand.preferences, placement);
    if (verdict.fits) ranking.best = verdict;
  }
  lastRanked.set(view, { uid, generation, shape, nodeNames, ranking });
  return ranking;
}

/** Fills a ranking's scores and messages from each node's score or refusal; answers where the
 * first choice is, or -1. */
function scan(
  ranking: Ranking,
  nodeNames: readonly string[],
  judge: (name: string, i: number) => number | string,
): number {
  let bestAt = -1;
  for (let i = 0; i < nodeNames.length; i++) {
    const name = nodeNames[i] as string;
    const score = judge(name, i);
    if (typeof score === "string") {
      ranking.messages[i] = score;
      const first = ranking.firstRefused;
      if (first < 0 || name < (nodeNames[first] ?? "")) ranking.firstRefused = i;
      continue;
    }
    ranking.scores[i] = score;
    ranking.fits++;
    const best = ranking.scores[bestAt] ?? 0;
    if (bestAt < 0 || ranksAbove(score, name, best, nodeNames[bestAt] ?? "")) bestAt = i;
  }
  return bestAt;
}

/** One node's outcome: memoised by its version in the view; liveness is judged on every call (a
 * Lease expires without any event), and a node where the pod already holds devices is special. */
function nodeOutcome(
  name: string,
  uid: string,
  memo: ShapeMemo,
  rank: (candidate: NodeCandidate) => NodeOutcome,
): NodeOutcome {
  const { view } = memo;
  const candidate = view.candidate(name, uid);
  const memoised = candidate.unavailable === undefined && !view.holds(uid, name);
  const version = view.nodeVersion(name);
  if (memoised) {
    const hit = memo.get(name, version);
    if (hit !== undefined) return hit;
  }
  const outcome = rank(candidate);
  if (memoised) memo.set(name, version, outcome);
  return outcome;
}

/** Outcomes of the last few request shapes, per node slot in typed arrays: consecutive pods of
 * one shape (replicas of a Job or Deployment) and the prioritize call after each filter recompute
 * only the nodes that changed, and a new shape every pod (the worst case) allocates nothing per
 * node: the oldest shape's arrays are reused. */
const SHAPES = 4;

class ShapeMemo {
  shape = "";
  versions: Float64Array;
  scores: Float64Array;
  messages: (string | undefined)[];
  readonly view: ClusterView;
  private readonly slots: Map<string, number>;

  constructor(view: ClusterView, slots: Map<string, number>, capacity: number) {
    this.view = view;
    this.slots = slots;
    this.versions = new Float64Array(capacity).fill(-1);
    this.scores = new Float64Array(capacity);
    this.messages = new Array<string | undefined>(capacity);
  }

  reset(shape: string): void {
    this.shape = shape;
    this.versions.fill(-1);
    this.messages.fill(undefined);
  }

  get(name: string, version: number): NodeOutcome | undefined {
    const slot = this.slots.get(name);
    if (slot === undefined || slot >= this.versions.length || this.versions[slot] !== version)
      return undefined;
    const message = this.messages[slot];
    return message === undefined
      ? { fits: true, score: this.scores[slot] ?? 0 }
      : { fits: false, message };
  }

  set(name: string, version: number, outcome: NodeOutcome): void {
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(name, slot);
    }
    if (slot >= this.versions.length) this.grow(Math.max(64, slot * 2));
    this.versions[slot] = version;
    this.scores[slot] = outcome.fits ? outcome.score : 0;
    this.messages[slot] = outcome.fits ? undefined : outcome.message;
  }

  private grow(capacity: number): void {
    const versions = new Float64Array(capacity).fill(-1);
    versions.set(this.versions);
    const scores = new Float64Array(capacity);
    scores.set(this.scores);
    this.versions = versions;
    this.scores = scores;
    this.messages.length = capacity;
  }
}

class OutcomeMemo {
  /** Node name -> slot, shared by every shape; a node keeps its slot. */
  private readonly slots = new Map<string, number>();
  /** Most recently used first. */
  private readonly shapes: ShapeMemo[] = [];
  private readonly view: ClusterView;

  constructor(view: ClusterView) {
    this.view = view;
  }

  forShape(shape: string): ShapeMemo {
    const at = this.shapes.findIndex((m) => m.shape === shape);
    const memo =
      at >= 0
        ? this.shapes.splice(at, 1)[0]
        : this.shapes.length >= SHAPES
          ? this.shapes.pop()
          : new ShapeMemo(this.view, this.slots, this.slots.size);
    if (memo === undefined) throw new Error("unreachable: a shape memo");
    if (at < 0) memo.reset(shape);
    this.shapes.unshift(memo);
    return memo;
  }
}

const memos = new WeakMap<ClusterView, OutcomeMemo>();

function memoFor(view: ClusterView): OutcomeMemo {
  let memo = memos.get(view);
  if (memo === undefined) {
    memo = new OutcomeMemo(view);
    memos.set(view, memo);
  }
  return memo;
}

/** The fitting nodes FilteringSucceed lists: the chosen one first, then others in the order sent. */
const EVENT_SCORES = 10;

/** HAMi's FilteringSucceed / FilteringFailed, in HAMi's words (pkg/scheduler/scheduler.go); the
 * node scores are capped at EVENT_SCORES (HAMi lists every node: a 5,000-node Event). */
function filterEvent(ranking: Ranking, nodeNames: readonly string[]): PodEvent {
  const { best, fits, scores, messages, firstRefused } = ranking;
  const total = nodeNames.length;
  if (best === undefined) {
    const why = firstRefused < 0 ? "" : `: ${messages[firstRefused] ?? ""}`;
    return {
      type: "Warning",
      reason: "FilteringFailed",
      message: `no available node, ${total} nodes do not meet${why}`,
    };
  }
  const listed = [`${best.node}:${best.score.toFixed(2)}`];
  for (let i = 0; i < total && listed.length < EVENT_SCORES; i++) {
    const score = scores[i] ?? Number.NaN;
    if (!Number.isNaN(score) && nodeNames[i] !== best.node)
      listed.push(`${nodeNames[i] ?? ""}:${score.toFixed(2)}`);
  }
  const more = fits > listed.length ? `,+${fits - listed.length} more` : "";
  return {
    type: "Normal",
    reason: "FilteringSucceed",
    message: `find fit node(${best.node}), ${total - fits} nodes not fit, ${fits} nodes fit(${listed.join(",")}${more})`,
  };
}

/** Why each node other than the first choice is refused. Nodes that fit share one message:
 * kube-scheduler shows FailedNodes only when no node passes, and /explain has every node's score
 * and reason. */
function failedNodes(ranking: Ranking, nodeNames: readonly string[]): Record<string, string> {
  const chosen = ranking.best?.node;
  const passed = `fits, but node policy ranks ${chosen ?? ""} first`;
  const failed: Record<string, string> = {};
  nodeNames.forEach((name, i) => {
    if (name !== chosen) failed[name] = ranking.messages[i] ?? passed;
  });
  return failed;
}

function firstRefusal(ranking: Ranking): string {
  const at = ranking.firstRefused;
  return at < 0 ? "no candidate nodes" : (ranking.messages[at] ?? "");
}

export function filter(args: ExtenderArgs, deps: ExtenderDeps): ExtenderFilterResult {
  const ranking = rankPod(args.pod, args.nodeNames, deps);
  const { demand } = ranking;
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
  const { best, fits } = ranking;
  if (fits < args.nodeNames.length) deps.requeue?.refused();
  deps.log.info(
    {
      pod,
      fits,
      failed: args.nodeNames.length - fits,
      node: best?.node,
      reason: best?.reason ?? firstRefusal(ranking),
    },
    "filter",
  );
  deps.podEvent?.(args.pod, filterEvent(ranking, args.nodeNames));
  return {
    NodeNames: best === undefined ? [] : [best.node],
    FailedNodes: failedNodes(ranking, args.nodeNames),
    FailedAndUnresolvableNodes: {},
    Error: "",
  };
}

export function prioritize(args: ExtenderArgs, deps: ExtenderDeps): HostPriority[] {
  const { scores } = rankPod(args.pod, args.nodeNames, deps);
  return args.nodeNames.map((Host, i) => {
    const score = scores[i] ?? Number.NaN;
    return { Host, Score: Number.isNaN(score) ? 0 : extenderPriority(score) };
  });
}
