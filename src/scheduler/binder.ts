// Bind: re-plan the pod on the chosen node against the live view, reserve in memory (no await
// between plan and reserve, so concurrent binds see each other), create the Binding carrying the
// allocation annotations with a resourceVersion precondition (one API write), publish the
// allocation event and queue the pod Events. A lost race re-reads and re-plans; a node that no
// longer fits fails the bind with the reason, and kube-scheduler retries the pod. No lock is shared
// with any other component.

import type { V1Pod } from "@kubernetes/client-node";
import {
  Annotation,
  awaitingCounts,
  BindPhase,
  encodeMigAllocations,
  encodePodDevices,
  envDisablesControl,
  evaluateNode,
  MIG_ALLOCATIONS,
  podUsage,
  type Pod,
  type PodDevices,
  type PodRequest,
} from "../core/index.js";
import { eventId, type EventBus, type HamiEvent } from "../events/index.js";
import {
  ConflictError,
  containersInDeviceOrder,
  type PodApi,
  type PodEvent,
} from "../k8s/index.js";
import { placementFor, podDemand, type ExtenderDeps } from "./extender.js";
import type { BindingArgs, ExtenderBindingResult } from "./protocol.js";

export const COMPONENT = "hami-scheduler";
const MAX_ATTEMPTS = 5;

/** How long a bind waits for another pod's Allocate before kube-scheduler is told to retry (under
 * its extender httpTimeout, 30 s), and after how long since its bind a pod whose Allocate never
 * came no longer holds others back (its kubelet may be gone). */
export const ALLOCATE_WAIT = { waitMs: 20_000, expiryMs: 60_000 };

export interface BinderDeps extends ExtenderDeps {
  api: PodApi;
  bus?: EventBus;
  clock: () => Date;
  allocateWait?: { waitMs: number; expiryMs: number };
}

type Outcome =
  | { result: "bound"; devices: PodDevices; request: PodRequest; pod: V1Pod }
  | { result: "unfit" | "error"; message: string; pod?: V1Pod }
  | { result: "conflict" }
  | { result: "waiting"; uid: string; since: number; counts: number[]; message: string };

function describeDevices(devices: PodDevices, request: PodRequest): string {
  return devices
    .map((list, i) =>
      list.length === 0
        ? ""
        : `${request.slots[i]?.name ?? i}: ${list.map((d) => `${d.uuid} ${d.memoryMiB}MiB ${d.cores}%`).join(", ")}`,
    )
    .filter((text) => text !== "")
    .join("; ");
}

/** Whether the container opts out of HAMi-core (env CUDA_DISABLE_CONTROL, a Go bool). */
function containerControlDisabled(pod: V1Pod, container: string | undefined): boolean {
  return envDisablesControl(containersInDeviceOrder(pod).find((c) => c.name === container)?.env);
}

interface Placed {
  pod: V1Pod;
  node: string;
  devices: PodDevices;
  request: PodRequest;
}

function allocationEvent(placed: Placed, now: Date): HamiEvent {
  const { pod, node, devices, request } = placed;
  const uid = pod.metadata?.uid ?? "";
  return {
    type: "allocation",
    version: 1,
    time: now.toISOString(),
    id: eventId("allocation", uid, pod.metadata?.resourceVersion ?? ""),
    pod: { uid, namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "" },
    node,
    containers: devices.map((list, i) => ({
      name: request.slots[i]?.name ?? String(i),
      devices: list,
      controlDisabled: containerControlDisabled(pod, request.slots[i]?.name),
    })),
    reason: "bind",
  };
}

/** Allocate names no pod: while a pod the kubelet could take for this one waits for its Allocate,
 * binding this one could give either pod's containers the other's devices and limits. */
function ambiguity(
  node: string,
  self: { uid: string; since: number },
  devices: PodDevices,
  deps: BinderDeps,
): Extract<Outcome, { result: "waiting" }> | undefined {
  const counts = awaitingCounts(devices);
  const { expiryMs } = deps.allocateWait ?? ALLOCATE_WAIT;
  const blocker = deps.view.awaitingAllocate(node, counts, self, expiryMs);
  if (blocker === undefined) return undefined;
  return {
    result: "waiting",
    ...self,
    counts,
    message:
      `waits for ${blocker.namespace}/${blocker.name}'s Allocate on ${node}: the kubelet could ` +
      `give either pod's containers the other's devices (same device count); kube-scheduler retries`,
  };
}

/** Re-plans the pod on the bind's node against the live view. */
function plan(
  pod: V1Pod,
  args: BindingArgs,
  deps: BinderDeps,
): { request: PodRequest; devices: PodDevices } | Outcome {
  const uid = pod.metadata?.uid ?? "";
  if (args.PodUID !== "" && uid !== args.PodUID)
    return {
      result: "error",
      message: `pod was replaced: uid ${uid}, bind asked for ${args.PodUID}`,
    };
  const boundTo = pod.spec?.nodeName ?? "";
  if (boundTo !== "") return { result: "error", message: `pod is already bound to ${boundTo}` };
  const policy = deps.policy();
  const demand = podDemand(pod as Pod, policy);
  if (demand.kind === "invalid") return { result: "unfit", message: demand.message, pod };
  const request = demand.kind === "devices" ? demand.request : { slots: [], initContainers: 0 };
  const preferences = demand.kind === "devices" ? demand.preferences : {};
  const candidate = deps.view.candidate(args.Node, uid);
  const placement = placementFor(pod as Pod, policy, deps.view);
  const verdict = evaluateNode(candidate, request, preferences, placement);
  if (!verdict.fits)
    return {
      result: "unfit",
      message: `node ${args.Node} no longer fits: ${verdict.message}`,
      pod,
    };
  return { request, devices: verdict.devices };
}

/** The pod as the view's informer last saw it (no API read), or as the API has it now: after a
 * lost race, or when the view does not hold it. A stale copy costs one conflict, never a wrong
 * write: the Binding carries its resourceVersion. */
async function currentPod(args: BindingArgs, deps: BinderDeps, fresh: boolean): Promise<V1Pod> {
  const known = fresh || args.PodUID === "" ? undefined : deps.view.pending.get(args.PodUID);
  const meta = known?.metadata;
  if (known !== undefined && meta?.namespace === args.PodNamespace && meta.name === args.PodName)
    return known;
  return deps.api.readPod(args.PodNamespace, args.PodName);
}

async function attempt(args: BindingArgs, deps: BinderDeps, fresh: boolean): Promise<Outcome> {
  const read = await currentPod(args, deps, fresh);
  const planned = plan(read, args, deps);
  if ("result" in planned) return planned;
  const { request, devices } = planned;
  const { uid = "", namespace = "", name = "" } = read.metadata ?? {};
  const usage = podUsage(devices, request.initContainers);
  // Reserved while it waits too: the view counts its devices, and it keeps its place in line.
  const since = deps.view.reserve({ uid, namespace, name, node: args.Node, devices, usage });
  const waiting = ambiguity(args.Node, { uid, since }, devices, deps);
  if (waiting !== undefined) return waiting;
  const seconds = String(Math.floor(deps.clock().getTime() / 1000));
  let pod = read;
  try {
    pod = await withoutStaleMig(read, devices, deps);
    // One write: the node and HAMi's annotations land together, or neither does. HAMi's
    // lifecycle: the plan goes to both; the agent erases what it serves from -to-allocate, and
    // usage is read from -allocated.
    await deps.api.bindPod(
      { namespace, name, uid, resourceVersion: pod.metadata?.resourceVersion ?? "" },
      args.Node,
      {
        [Annotation.vgpuNode]: args.Node,
        [Annotation.vgpuTime]: seconds,
        [Annotation.devicesToAllocate]: encodePodDevices(devices),
        [Annotation.devicesAllocated]: encodePodDevices(devices),
        ...migAllocation(devices),
        [Annotation.bindPhase]: BindPhase.allocating,
        [Annotation.bindTime]: seconds,
      },
    );
  } catch (error) {
    deps.view.unreserve(uid);
    if (error instanceof ConflictError) return { result: "conflict" };
    const message = `binding to ${args.Node} failed: ${error instanceof Error ? error.message : String(error)}`;
    return { result: "error", message, pod };
  }
  return { result: "bound", devices, request, pod };
}

/** HAMi's record of the MIG instance each container got, when any did (nvidia/mig.ts). */
function migAllocation(devices: PodDevices): Record<string, string> {
  const raw = encodeMigAllocations(devices);
  return raw === undefined ? {} : { [MIG_ALLOCATIONS]: raw };
}

/** A MIG record the plan does not replace (left by an earlier bind attempt, or written by the
 * pod's author) would name other devices: removed first, as a Binding can only add annotations. */
async function withoutStaleMig(pod: V1Pod, devices: PodDevices, deps: BinderDeps): Promise<V1Pod> {
  const { namespace = "", name = "", resourceVersion = "" } = pod.metadata ?? {};
  if (pod.metadata?.annotations?.[MIG_ALLOCATIONS] === undefined) return pod;
  if (encodeMigAllocations(devices) !== undefined) return pod;
  return deps.api.annotatePod({ namespace, name, resourceVersion }, { [MIG_ALLOCATIONS]: null });
}

async function markFailed(pod: V1Pod, deps: BinderDeps): Promise<void> {
  const { namespace = "", name = "", resourceVersion = "" } = pod.metadata ?? {};
  if (pod.metadata?.annotations?.[Annotation.devicesToAllocate] === undefined) return;
  await deps.api
    .annotatePod({ namespace, name, resourceVersion }, { [Annotation.bindPhase]: BindPhase.failed })
    .catch(() => undefined);
}

/** Resolves once no pod on `node` could be confused with `waiting`'s, or at `deadline` (ms): checked
 * at each change on the node, and every 250 ms, as a blocker's bind expires with time alone. */
async function turn(
  node: string,
  waiting: Extract<Outcome, { result: "waiting" }>,
  deps: BinderDeps,
  deadline: number,
): Promise<void> {
  const { expiryMs } = deps.allocateWait ?? ALLOCATE_WAIT;
  while (
    Date.now() < deadline &&
    deps.view.awaitingAllocate(node, waiting.counts, waiting, expiryMs) !== undefined
  )
    await deps.view.changed(node, Math.min(250, deadline - Date.now()));
}

/** Attempts until bound or failed: a lost write race re-plans (MAX_ATTEMPTS), a pod the kubelet
 * could confuse with this one waits for its Allocate (up to allocateWait.waitMs). */
async function attempts(args: BindingArgs, deps: BinderDeps): Promise<Outcome> {
  const deadline = Date.now() + (deps.allocateWait ?? ALLOCATE_WAIT).waitMs;
  let conflicts = 0;
  let waited: string | undefined;
  for (;;) {
    const outcome = await attempt(args, deps, conflicts > 0);
    if (outcome.result === "conflict" && ++conflicts < MAX_ATTEMPTS) continue;
    const done = outcome.result !== "waiting" || Date.now() >= deadline;
    // A bind that waited and ends without binding gives back what it reserved while waiting.
    if (done && waited !== undefined && outcome.result !== "bound") deps.view.unreserve(waited);
    if (done) return outcome;
    if (waited === undefined)
      deps.log.info(
        { pod: `${args.PodNamespace}/${args.PodName}`, node: args.Node, reason: outcome.message },
        "bind waits",
      );
    waited = outcome.uid;
    await turn(args.Node, outcome, deps, deadline);
  }
}

export async function bind(args: BindingArgs, deps: BinderDeps): Promise<ExtenderBindingResult> {
  const pod = `${args.PodNamespace}/${args.PodName}`;
  let outcome: Outcome;
  try {
    outcome = await attempts(args, deps);
  } catch (error) {
    outcome = { result: "error", message: error instanceof Error ? error.message : String(error) };
  }
  deps.metrics.binds.inc({ result: outcome.result });
  if (outcome.result === "bound") {
    reportBound(outcome, args, deps);
    return { Error: "" };
  }
  const message =
    outcome.result === "conflict"
      ? `pod kept changing: ${MAX_ATTEMPTS} conflicting writes`
      : outcome.message;
  deps.log.warn({ pod, node: args.Node, reason: message }, "bind failed");
  if ("pod" in outcome && outcome.pod !== undefined) {
    const failedPod = outcome.pod;
    await markFailed(failedPod, deps);
    for (const reason of ["FailedBinding", "BindingFailed"])
      void deps.api
        .recordEvent(failedPod, { type: "Warning", reason, message }, COMPONENT)
        .catch(() => undefined);
  }
  return { Error: message };
}

/** A bound pod: one log line, the allocation event, and one pod Event: HAMi's reason and words
 * (pkg/scheduler/event.go), for alerting written against HAMi, then the devices each container got. */
function reportBound(
  outcome: Extract<Outcome, { result: "bound" }>,
  args: BindingArgs,
  deps: BinderDeps,
): void {
  const pod = `${args.PodNamespace}/${args.PodName}`;
  const devices = describeDevices(outcome.devices, outcome.request);
  deps.log.info({ pod, node: args.Node, devices, reason: "bound" }, "bind");
  deps.bus?.publish(allocationEvent({ ...outcome, node: args.Node }, deps.clock()));
  const event: PodEvent = {
    type: "Normal",
    reason: "BindingSucceed",
    message: `Successfully binding node [${args.Node}] to ${pod}; devices: ${devices || "none"}`,
  };
  void deps.api.recordEvent(outcome.pod, event, COMPONENT).catch((error: unknown) => {
    deps.log.warn({ pod, err: error }, "could not record the pod event");
  });
}
