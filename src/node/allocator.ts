// The node's allocator: one store of pods bound here that wait for devices, fed by allocation
// events (fast path) and by the pod informer / a direct API read (source of truth, backstop when
// NATS is down or late). Allocate matches the kubelet's call to the pending container (core),
// answers the HAMi-core contract (core), records what was served on the pod, and publishes it.
// Events are hints, never authority: a pod known only from an event is read from the API before
// anything is served, and what is served is what the API says (uid, node, containers, devices).

import { chmod, mkdir, rm, stat } from "node:fs/promises";
import { status } from "@grpc/grpc-js";
import type { V1Pod } from "@kubernetes/client-node";
import {
  Annotation,
  BindPhase,
  cacheDirProblem,
  containerCacheDir,
  decodePodDevices,
  envDisablesControl,
  encodePodDevices,
  matchAllocate,
  nextContainer,
  plannedDevices,
  type AllocatePolicy,
  type ContainerResponse,
  type MigPlacement,
  type Mount,
  type PendingPod,
  type PodDevices,
  type ServedContainer,
  type Vendor,
} from "../core/index.js";
import { eventId, type EventBus, type HamiEvent } from "../events/index.js";
import { containersInDeviceOrder, type PodApi } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";
import type {
  AllocateRequest,
  AllocateResponse,
  ContainerAllocateResponse,
} from "./device-plugin-api.js";
import { AllocateError } from "./plugin.js";
import { visibleDevices } from "./offer.js";
import { directRecorder, durableRecorder, type ServedRecorder } from "./served-recorder.js";
import { warnPod } from "./pod-warning.js";

interface Entry extends PendingPod {
  controlDisabled: boolean[];
  /** The kubelet's PodResources lists the container: not a plain (non-sidecar) init container. */
  listed: boolean[];
  /** Where the store learnt of the pod first. */
  source: "event" | "api";
  /** The plan comes from the API (informer or read), not only from an event. */
  confirmed: boolean;
}

export interface AllocatorDeps {
  node: string;
  api: PodApi;
  /** Pods bound to this node, read from the API server (the backstop path). */
  listPods: () => Promise<V1Pod[]>;
  bus?: EventBus;
  log: Logger;
  policy: () => AllocatePolicy;
  /** Whether a virtual device ID is one of ours and healthy. */
  isKnownDevice: (id: string) => boolean;
  /** Whose devices these are: it writes the Allocate answer. */
  vendor: Vendor;
  /** The MIG UUID of the instance at a placement on a GPU, as last discovered. */
  migDevice?: (gpu: string, placement: MigPlacement) => string | undefined;
  newId: () => string;
  clock: () => Date;
  /** Checks afterwards that the kubelet gave the devices to the container served. */
  verify?: (served: Omit<ServedContainer, "resource">) => void;
}

const terminal = (pod: V1Pod): boolean =>
  pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

const podKey = (pod: V1Pod): string => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/** Containers in PodDevices order: init containers, then app containers. */
function names(pod: V1Pod): string[] {
  return containersInDeviceOrder(pod).map((c) => c.name);
}

/** kubelet pkg/kubelet/apis/podresources/server_v1.go lists app containers and restartable
 * (sidecar) init containers only. */
function listed(pod: V1Pod): boolean[] {
  const plainInit = new Set(
    (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy !== "Always").map((c) => c.name),
  );
  return names(pod).map((name) => !plainInit.has(name));
}

function disabled(pod: V1Pod): boolean[] {
  return containersInDeviceOrder(pod).map((c) => envDisablesControl(c.env));
}

function identity(pod: V1Pod): { uid: string; namespace: string; name: string; created: number } {
  const meta = pod.metadata ?? {};
  // client-node may hand the timestamp over as a Date or as the wire string.
  const created =
    meta.creationTimestamp === undefined ? 0 : new Date(meta.creationTimestamp).getTime();
  return { uid: meta.uid ?? "", namespace: meta.namespace ?? "", name: meta.name ?? "", created };
}

/** Where the pod stands in the kubelet's arrival order: the resourceVersion at which we first saw it
 * bound here (kept afterwards; later updates raise the resourceVersion). */
function arrivalOf(pod: V1Pod, previous: PendingPod | undefined): number {
  if (previous !== undefined && previous.arrival !== Number.MAX_SAFE_INTEGER)
    return previous.arrival;
  const version = Number(pod.metadata?.resourceVersion);
  return Number.isFinite(version) ? version : Number.MAX_SAFE_INTEGER;
}

/** The scheduler's plan and which containers were served, from a pod's annotations, on HAMi's
 * lifecycle: the plan is written to both `-allocated` and `-to-allocate` at bind, and the agent
 * erases from `-to-allocate` each container it serves (before answering the kubelet, so a restarted
 * agent never serves a container twice). A HAMi-served pod therefore reads as fully served. */
function decodePlan(
  annotations: Record<string, string>,
): { devices: PodDevices; served: boolean[] } | { error: unknown } | undefined {
  const remainingRaw = annotations[Annotation.devicesToAllocate];
  if (remainingRaw === undefined) return undefined;
  try {
    const remaining = decodePodDevices(remainingRaw, Annotation.devicesToAllocate);
    const devices = plannedDevices(annotations) ?? remaining;
    // bind-phase success means every container was served, whatever the annotation still lists.
    const done = annotations[Annotation.bindPhase] === BindPhase.success;
    const served = devices.map(
      (d, i) => done || (d.length > 0 && (remaining[i]?.length ?? 0) === 0),
    );
    return { devices, served };
  } catch (error) {
    return { error };
  }
}

/** Checks the file sources, then makes the directory sources (mode 0777, as HAMi does for
 * /tmp/vgpulock, so a container running as any user can write its locks and cache). containerd
 * would turn a missing libvgpu.so or ld.so.preload into an empty directory in the container. */
async function prepareSources(node: string, mounts: readonly Mount[]): Promise<void> {
  // In parallel (each is a thread-pool round trip on Allocate's path); files checked first.
  const files = mounts.filter((m) => m.source === "file");
  const found = await Promise.all(files.map((m) => stat(m.hostPath).catch(() => undefined)));
  files.forEach((mount, i) => {
    const file = found[i];
    if (file?.isFile() !== true)
      throw new AllocateError(
        status.FAILED_PRECONDITION,
        `HAMi-core is not installed on node ${node}: ${mount.hostPath} ${file === undefined ? "does not exist" : "is not a file"} ` +
          "(the chart's device-plugin init container installs it; a container with CUDA_DISABLE_CONTROL=true needs none)",
      );
  });
  await Promise.all(
    mounts
      .filter((m) => m.source === "directory")
      .map(async (mount) => {
        await mkdir(mount.hostPath, { recursive: true });
        await chmod(mount.hostPath, 0o777);
      }),
  );
}

function toProto(r: ContainerResponse): ContainerAllocateResponse {
  return {
    envs: r.envs,
    mounts: r.mounts.map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      read_only: m.readOnly,
    })),
    devices: [],
    annotations: {},
    cdi_devices: [],
  };
}

export class Allocator {
  private readonly deps: AllocatorDeps;
  private readonly store = new Map<string, Entry>();
  /** `<namespace>/<name>` of pods whose containers got another pod's devices: never success. */
  private readonly mismatched = new Set<string>();
  private readonly released = new Set<string>();
  /** Allocate calls answered from the event path and from the API path (for the benchmark and logs). */
  readonly served = { event: 0, api: 0 };

  /** Where what was served is recorded before answering: the API patch, awaited, until a served
   * log is opened. */
  private recorder: ServedRecorder;

  constructor(deps: AllocatorDeps) {
    this.deps = deps;
    this.recorder = directRecorder(deps.api);
  }

  /** Answers once what was served is in the served log at `file` from now on (open it before
   * serving anything, and before the informer lists: containers served before a restart count). */
  async openServedLog(file: string): Promise<void> {
    this.recorder = await durableRecorder(file, this.deps.api, this.deps.log);
  }

  async close(): Promise<void> {
    await this.recorder.close();
  }

  pending(): PendingPod[] {
    return [...this.store.values()];
  }

  /** An allocation event for this node: the pod joins the store unless the API already told us. */
  fromEvent(event: HamiEvent): void {
    if (event.type !== "allocation" || event.node !== this.deps.node) return;
    if (this.store.has(event.pod.uid) || this.released.has(event.pod.uid)) return;
    const containers = event.containers ?? [];
    const devices: PodDevices = containers.map((c) => c.devices);
    this.store.set(event.pod.uid, {
      ...event.pod,
      created: Date.parse(event.time),
      // Ordered after every pod the API has shown, until the informer tells its resourceVersion.
      arrival: Number.MAX_SAFE_INTEGER,
      containers: containers.map((c) => c.name),
      devices,
      served: devices.map(() => false),
      controlDisabled: containers.map((c) => c.controlDisabled === true),
      listed: containers.map(() => true),
      source: "event",
      confirmed: false,
    });
  }

  /** A pod bound here, from the informer or an API read: the source of truth. */
  fromPod(pod: V1Pod): void {
    if (terminal(pod)) {
      void this.release(pod);
      return;
    }
    const annotations = pod.metadata?.annotations ?? {};
    if (annotations[Annotation.vgpuNode] !== this.deps.node) return;
    const plan = decodePlan(annotations);
    if (plan === undefined) return;
    const who = identity(pod);
    if ("error" in plan) {
      this.deps.log.warn(
        { pod: `${who.namespace}/${who.name}`, err: plan.error },
        "ignoring a malformed allocation",
      );
      return;
    }
    const previous = this.store.get(who.uid);
    const { devices, served } = plan;
    const arrival = arrivalOf(pod, previous);
    const wasServed = (i: number): boolean =>
      previous?.served[i] === true || this.recorder.servedBefore(who.uid, i);
    this.store.set(who.uid, {
      ...who,
      arrival,
      containers: names(pod),
      devices,
      served: devices.map((_, i) => served[i] === true || wasServed(i)),
      controlDisabled: disabled(pod),
      listed: listed(pod),
      source: previous === undefined ? "api" : previous.source,
      confirmed: true,
    });
  }

  /** Frees what a deleted or finished pod held: its cache dirs, its store entry; says so once. */
  async release(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? "";
    const entry = this.store.get(uid);
    this.store.delete(uid);
    this.mismatched.delete(podKey(pod));
    const ours = pod.metadata?.annotations?.[Annotation.vgpuNode] === this.deps.node;
    if ((entry === undefined && !ours) || this.released.has(uid)) return;
    this.released.add(uid);
    const { hookPath } = this.deps.policy();
    await Promise.all(
      names(pod)
        .filter((c) => cacheDirProblem(uid, c) === undefined)
        .map((c) => rm(containerCacheDir(hookPath, uid, c), { recursive: true, force: true })),
    );
    if (entry === undefined) return;
    this.publish("released", entry, "pod deleted or finished");
    this.deps.log.info(
      { pod: `${entry.namespace}/${entry.name}`, node: this.deps.node, reason: "released" },
      "release",
    );
  }

  /** These pods' containers got devices answered for another pod: their bind-phase stays failed. */
  markMismatched(pods: readonly { namespace: string; name: string }[]): void {
    for (const pod of pods) this.mismatched.add(`${pod.namespace}/${pod.name}`);
  }

  /** Re-reads the pods bound here from the API (NATS down or late, or the informer behind). */
  async refresh(): Promise<void> {
    for (const pod of await this.deps.listPods()) this.fromPod(pod);
  }

  async allocate(request: AllocateRequest): Promise<AllocateResponse> {
    const responses: ContainerAllocateResponse[] = [];
    for (const container of request.container_requests)
      responses.push(await this.allocateOne(container.devices_ids));
    return { container_responses: responses };
  }

  private async allocateOne(ids: string[]): Promise<ContainerAllocateResponse> {
    const unknown = ids.filter((id) => !this.deps.isKnownDevice(id));
    if (ids.length === 0 || unknown.length > 0)
      throw new AllocateError(
        status.INVALID_ARGUMENT,
        ids.length === 0
          ? "Allocate asked for no devices"
          : `unknown or unhealthy device IDs: ${unknown.join(", ")}`,
      );
    // A pod known only from its event has no arrival order yet: with another pod waiting, the API
    // must say which one the kubelet admits first.
    const waiting = this.pending().filter((p) => nextContainer(p) !== undefined);
    if (waiting.length > 1 && waiting.some((p) => p.arrival === Number.MAX_SAFE_INTEGER))
      await this.refresh();
    let match = await this.confirmedMatch(ids.length);
    let path: "event" | "api" = "event";
    if ("error" in match) {
      await this.refresh();
      match = await this.confirmedMatch(ids.length);
      path = "api";
    }
    if ("error" in match) {
      await this.failLonePending(match.error);
      throw new AllocateError(status.FAILED_PRECONDITION, match.error);
    }
    const entry = match.pod as Entry;
    if (entry.source === "api") path = "api";
    const index = match.container;
    entry.served[index] = true;
    try {
      return await this.serve(entry, index, path, ids);
    } catch (error) {
      entry.served[index] = false;
      throw error;
    }
  }

  private async serve(
    entry: Entry,
    index: number,
    path: "event" | "api",
    ids: string[],
  ): Promise<ContainerAllocateResponse> {
    const policy = this.deps.policy();
    const container = entry.containers[index] ?? String(index);
    const devices = visibleDevices(entry.devices[index] ?? [], this.deps.migDevice);
    const env: Record<string, string> =
      entry.controlDisabled[index] === true ? { CUDA_DISABLE_CONTROL: "true" } : {};
    const problem = cacheDirProblem(entry.uid, container);
    if (problem !== undefined)
      throw new AllocateError(status.FAILED_PRECONDITION, `refusing a host path: ${problem}`);
    const response = this.deps.vendor.containerResponse(
      devices,
      { podUID: entry.uid, container, env },
      policy,
      this.deps.newId(),
    );
    await prepareSources(this.deps.node, response.mounts);
    const complete = entry.devices.every((d, i) => d.length === 0 || entry.served[i] === true);
    const remaining = entry.devices.map((d, i) => (entry.served[i] === true ? [] : d));
    await this.recorder.record(
      { uid: entry.uid, namespace: entry.namespace, name: entry.name },
      index,
      {
        [Annotation.devicesToAllocate]: encodePodDevices(remaining),
        ...(complete && !this.mismatched.has(`${entry.namespace}/${entry.name}`)
          ? { [Annotation.bindPhase]: BindPhase.success }
          : {}),
      },
    );
    this.served[path]++;
    if (entry.listed[index] !== false)
      this.deps.verify?.({
        namespace: entry.namespace,
        name: entry.name,
        container,
        deviceIds: ids,
      });
    const pod = `${entry.namespace}/${entry.name}`;
    this.deps.log.info(
      {
        pod,
        node: this.deps.node,
        container,
        devices: devices.map((d) => `${d.uuid} ${d.memoryMiB}MiB ${d.cores}%`),
        path,
        reason: "allocated",
      },
      "allocate",
    );
    if (complete) {
      this.publish("allocated", entry, `served through the ${path} path`);
      this.store.set(entry.uid, entry);
    }
    return toProto(response);
  }

  /** The match for `count` devices among pods whose plan the API confirmed: an event-only pod is read
   * first, and replaced by what the API says, or dropped when the API does not know it bound here
   * with that uid (a forged or stale event). Each round confirms or drops one pod. */
  private async confirmedMatch(count: number): Promise<ReturnType<typeof matchAllocate>> {
    for (;;) {
      const match = matchAllocate(this.pending(), count);
      if ("error" in match) return match;
      const entry = match.pod as Entry;
      if (entry.confirmed) return match;
      await this.confirm(entry);
    }
  }

  private async confirm(entry: Entry): Promise<void> {
    const pod = await this.deps.api.readPod(entry.namespace, entry.name).catch(() => undefined);
    const bound = pod?.metadata?.annotations?.[Annotation.vgpuNode] === this.deps.node;
    if (pod !== undefined && pod.metadata?.uid === entry.uid && bound) {
      this.fromPod(pod);
      if (this.store.get(entry.uid)?.confirmed === true) return;
    }
    this.store.delete(entry.uid);
    this.deps.log.warn(
      {
        pod: `${entry.namespace}/${entry.name}`,
        node: this.deps.node,
        reason: "unconfirmed event",
      },
      "ignoring an allocation event the API does not confirm",
    );
  }

  /** With exactly one pod waiting here, a call that cannot be matched is that pod's failure. */
  private async failLonePending(message: string): Promise<void> {
    const waiting = this.pending().filter((p) =>
      p.devices.some((d, i) => d.length > 0 && p.served[i] !== true),
    );
    const [only] = waiting;
    if (waiting.length !== 1 || only === undefined) return;
    await warnPod(this.deps.api, only, { reason: "AllocateFailed", message, failBind: true });
    this.deps.log.warn(
      { pod: `${only.namespace}/${only.name}`, node: this.deps.node, reason: message },
      "allocate failed",
    );
  }

  private publish(type: "allocated" | "released", entry: Entry, reason: string): void {
    const event: HamiEvent = {
      type,
      version: 1,
      time: this.deps.clock().toISOString(),
      id: eventId(type, entry.uid, 0),
      pod: { uid: entry.uid, namespace: entry.namespace, name: entry.name },
      node: this.deps.node,
      containers: entry.devices.map((devices, i) => ({
        name: entry.containers[i] ?? String(i),
        devices,
      })),
      reason,
    };
    this.deps.bus?.publish(event);
  }
}
