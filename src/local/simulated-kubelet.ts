// A SIMULATED kubelet for tests: no containers run and no GPUs exist. Against the real
// kube-apiserver it does what the kubelet does that hami-ts depends on: creates its Node with CPU and
// memory capacity, keeps the Ready condition and its Lease in kube-node-lease, runs a device manager
// (simulated-device-manager.ts) that publishes device-plugin resources into the Node's capacity and
// allocatable, and admits the pods bound to it in creation-time order: device IDs per container,
// Allocate, then the pod is marked Running. Each ContainerAllocateResponse is kept in `allocations`
// and written to the pod as annotation `sim.hami-ts/allocate-<container>`.

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  CoordinationV1Api,
  CoreV1Api,
  ListWatch,
  V1MicroTime,
  Watch,
  type V1Container,
  type V1Pod,
  type V1Taint,
} from "@kubernetes/client-node";
import { KeepAliveKubeConfig, MERGE_PATCH } from "../k8s/index.js";
import type { ContainerAllocateResponse } from "../node/index.js";
import { SimulatedDeviceManager, type ResourceCounts } from "./simulated-device-manager.js";
import { SimulatedPodResources } from "./simulated-pod-resources.js";
import { writeSimulatedRegion } from "./simulated-hami-core.js";

/** Creation time in ms. Objects from the watch stream carry the timestamp as the wire string, those
 * from a list as a Date: accept both. */
function created(pod: V1Pod): number {
  const stamp = pod.metadata?.creationTimestamp;
  return stamp === undefined ? 0 : new Date(stamp).getTime();
}

/** Like the kubelet's PodResources List: plain init containers hold devices without being listed. */
function listedByKubelet(pod: V1Pod, container: V1Container): boolean {
  const init = (pod.spec?.initContainers ?? []).includes(container);
  return !init || container.restartPolicy === "Always";
}

export const ALLOCATE_ANNOTATION_PREFIX = "sim.hami-ts/allocate-";

export interface SimulatedKubeletOptions {
  kubeconfig: string;
  nodeName: string;
  labels?: Record<string, string>;
  /** On the Node from its creation (simulated nodes in a shared cluster keep other pods off). */
  taints?: V1Taint[];
  /** Lease renewal period; the Lease lasts 4 periods. */
  heartbeatMs?: number;
  /** Write each running container's HAMi-core shared region, as libvgpu.so would (local mode). */
  simulateRegions?: boolean;
}

export class SimulatedKubelet {
  /** `<namespace>/<pod>/<container>` -> what the plugin's Allocate answered. */
  readonly allocations = new Map<string, ContainerAllocateResponse>();
  /** Pods this kubelet refused, `<namespace>/<pod>` -> message (as in status.message). */
  readonly rejected = new Map<string, string>();
  readonly devices: SimulatedDeviceManager;
  readonly podResources: SimulatedPodResources;
  private readonly root: string;
  private readonly core: CoreV1Api;
  private readonly leases: CoordinationV1Api;
  private readonly admitted = new Set<string>();
  /** Order in which pods reached this kubelet: like the kubelet, same-second pods go in that order. */
  private readonly arrivals = new Map<string, number>();
  private arrived = 0;
  private pods: ListWatch<V1Pod> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private held = false;
  readonly errors: string[] = [];
  /** Admission order: the waiting pods, sorted by creation time then arrival, in the order this
   * returns (an adversarial kubelet: reversed, shuffled). */
  order: ((waiting: V1Pod[]) => V1Pod[]) | undefined;

  /** Pods bound meanwhile wait (as behind a slow kubelet) until resumeAdmission(). */
  holdAdmission(): void {
    this.held = true;
  }

  resumeAdmission(): void {
    this.held = false;
    this.enqueue(() => this.sync());
  }

  private readonly options: SimulatedKubeletOptions;
  private readonly kc: KubeConfig;

  /** `root` is the kubelet's root dir: device-plugins/ and pod-resources/ are under it. */
  private constructor(options: SimulatedKubeletOptions, kc: KubeConfig, root: string) {
    this.options = options;
    this.kc = kc;
    this.root = root;
    this.core = kc.makeApiClient(CoreV1Api);
    this.leases = kc.makeApiClient(CoordinationV1Api);
    this.devices = new SimulatedDeviceManager(join(root, "device-plugins"), (resource, counts) => {
      this.enqueue(() => this.publishResource(resource, counts));
    });
    this.podResources = new SimulatedPodResources(join(root, "pod-resources", "kubelet.sock"));
  }

  static async start(options: SimulatedKubeletOptions): Promise<SimulatedKubelet> {
    const kc = new KeepAliveKubeConfig();
    kc.loadFromFile(options.kubeconfig);
    const dir = await mkdtemp(join(tmpdir(), "hami-sim-kubelet-"));
    const kubelet = new SimulatedKubelet(options, kc, dir);
    await kubelet.registerNode();
    await kubelet.renewLease();
    const period = options.heartbeatMs ?? 2_000;
    kubelet.heartbeat = setInterval(() => {
      kubelet.enqueue(() => kubelet.renewLease());
    }, period);
    await mkdir(kubelet.devices.dir, { recursive: true });
    await kubelet.devices.start();
    await kubelet.podResources.start();
    kubelet.watchPods();
    return kubelet;
  }

  get name(): string {
    return this.options.nodeName;
  }

  /** The device-plugins dir where kubelet.sock lives and plugins put their sockets. */
  get pluginDir(): string {
    return this.devices.dir;
  }

  /** Simulates a kubelet restart: plugin sockets deleted, kubelet.sock served anew. */
  async restart(): Promise<void> {
    await this.devices.restart();
  }

  /** Names of the pods the watch delivered, in the order they arrived. */
  arrivedPods(): string[] {
    return (this.pods?.list() ?? [])
      .filter((pod) => this.arrivals.has(pod.metadata?.uid ?? ""))
      .sort((a, b) => this.arrival(a) - this.arrival(b))
      .map((pod) => pod.metadata?.name ?? "");
  }

  /** Simulates the kubelet's pod source starting over (a relist): the watch opens anew from a fresh
   * list, and pods not admitted yet arrive again in the list's order (by name), not in the order
   * they were bound. */
  async relist(): Promise<void> {
    await this.pods?.stop();
    this.arrivals.clear();
    this.arrived = 0;
    this.watchPods();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    await this.pods?.stop();
    await this.work;
    await this.devices.stop();
    await this.podResources.stop();
    await rm(this.root, { recursive: true, force: true });
  }

  private free(uid = ""): void {
    this.devices.free(uid);
    this.podResources.forget(uid);
  }

  private enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch((error: unknown) => {
      this.errors.push(String(error));
    });
  }

  private async registerNode(): Promise<void> {
    const name = this.options.nodeName;
    const labels = { "kubernetes.io/hostname": name, ...this.options.labels };
    try {
      const spec = { taints: this.options.taints ?? [] };
      await this.core.createNode({ body: { metadata: { name, labels }, spec } });
    } catch {
      await this.core.patchNode({ name, body: { metadata: { labels } } }, MERGE_PATCH);
    }
    const now = new Date();
    const capacity = { cpu: "16", memory: "64Gi", pods: "110", "ephemeral-storage": "100Gi" };
    const ready = {
      type: "Ready",
      status: "True",
      reason: "KubeletReady",
      message: "simulated kubelet is posting ready status",
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    };
    await this.core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            conditions: [ready],
            addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
          },
        },
      },
      MERGE_PATCH,
    );
  }

  private async renewLease(): Promise<void> {
    const name = this.options.nodeName;
    const namespace = "kube-node-lease";
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds: Math.max(
        1,
        Math.ceil((4 * (this.options.heartbeatMs ?? 2_000)) / 1000),
      ),
      renewTime: new V1MicroTime(),
    };
    try {
      await this.leases.patchNamespacedLease({ name, namespace, body: { spec } }, MERGE_PATCH);
    } catch {
      await this.leases.createNamespacedLease({ namespace, body: { metadata: { name }, spec } });
    }
  }

  private async publishResource(resource: string, counts: ResourceCounts): Promise<void> {
    const status = {
      capacity: { [resource]: String(counts.capacity) },
      allocatable: { [resource]: String(counts.allocatable) },
    };
    await this.core.patchNodeStatus({ name: this.options.nodeName, body: { status } }, MERGE_PATCH);
  }

  private watchPods(): void {
    const fieldSelector = `spec.nodeName=${this.options.nodeName}`;
    const pods = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(this.kc),
      () => this.core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const changed = (pod: V1Pod): void => {
      const uid = pod.metadata?.uid ?? "";
      if (!this.arrivals.has(uid)) this.arrivals.set(uid, this.arrived++);
      this.enqueue(() => this.sync());
    };
    pods.on("add", changed);
    pods.on("update", changed);
    pods.on("delete", (pod: V1Pod) => {
      this.release(pod);
    });
    pods.on("error", () => {
      if (!this.stopped)
        setTimeout(() => {
          void pods.start();
        }, 500);
    });
    this.pods = pods;
    void pods.start();
  }

  private arrival(pod: V1Pod): number {
    return this.arrivals.get(pod.metadata?.uid ?? "") ?? Number.MAX_SAFE_INTEGER;
  }

  private release(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? "";
    this.arrivals.delete(uid);
    this.free(uid);
    this.admitted.delete(uid);
    const prefix = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}/`;
    for (const key of this.allocations.keys())
      if (key.startsWith(prefix)) this.allocations.delete(key);
  }

  /** Admits waiting pods in creation-time order; frees the devices of terminal pods. */
  private async sync(): Promise<void> {
    if (this.held) return;
    const pods = this.pods?.list() ?? [];
    for (const pod of pods) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") this.free(pod.metadata?.uid);
    }
    const waiting = pods
      .filter((pod) => !this.admitted.has(pod.metadata?.uid ?? ""))
      .filter((pod) => (pod.status?.phase ?? "Pending") === "Pending")
      .filter((pod) => pod.metadata?.deletionTimestamp === undefined)
      .sort((a, b) => created(a) - created(b) || this.arrival(a) - this.arrival(b));
    for (const pod of this.order?.(waiting) ?? waiting) await this.admit(pod);
  }

  private async admit(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? "";
    const name = pod.metadata?.name ?? "";
    const namespace = pod.metadata?.namespace ?? "default";
    this.admitted.add(uid);
    let responses: Map<string, ContainerAllocateResponse>;
    try {
      responses = await this.allocatePod(uid, pod);
    } catch (error) {
      this.free(uid);
      const message = `Allocate failed due to ${error instanceof Error ? error.message : String(error)}`;
      this.rejected.set(`${namespace}/${name}`, message);
      await this.setPhase(pod, { phase: "Failed", reason: "UnexpectedAdmissionError", message });
      return;
    }
    const annotations: Record<string, string> = {};
    for (const [container, response] of responses) {
      this.allocations.set(`${namespace}/${name}/${container}`, response);
      annotations[`${ALLOCATE_ANNOTATION_PREFIX}${container}`] = JSON.stringify(response);
      if (this.options.simulateRegions === true)
        await writeSimulatedRegion(response, `${uid}/${container}`).catch((error: unknown) => {
          this.errors.push(`region of ${namespace}/${name}/${container}: ${String(error)}`);
        });
    }
    if (responses.size > 0)
      await this.core.patchNamespacedPod(
        { name, namespace, body: { metadata: { annotations } } },
        MERGE_PATCH,
      );
    await this.setPhase(pod, { phase: "Running" });
  }

  /** Allocate for every container, init containers first (their devices reusable by app ones). */
  private async allocatePod(
    uid: string,
    pod: V1Pod,
  ): Promise<Map<string, ContainerAllocateResponse>> {
    const responses = new Map<string, ContainerAllocateResponse>();
    const initIds = new Map<string, string[]>();
    for (const container of pod.spec?.initContainers ?? []) {
      const served = await this.allocateContainer(pod, container, new Map());
      if (served.response !== undefined) responses.set(container.name, served.response);
      for (const [resource, ids] of served.ids)
        initIds.set(resource, [...(initIds.get(resource) ?? []), ...ids]);
    }
    for (const container of pod.spec?.containers ?? []) {
      const served = await this.allocateContainer(pod, container, initIds);
      if (served.response !== undefined) responses.set(container.name, served.response);
    }
    return responses;
  }

  /** Devices for one container from every registered resource it asks; `reusable` holds what the
   * pod's init containers were given, which the kubelet lets app containers reuse. */
  private async allocateContainer(
    pod: V1Pod,
    container: V1Container,
    reusable: Map<string, string[]>,
  ): Promise<{ ids: Map<string, string[]>; response?: ContainerAllocateResponse }> {
    const { uid = "", namespace = "default", name = "" } = pod.metadata ?? {};
    const ids = new Map<string, string[]>();
    let response: ContainerAllocateResponse | undefined;
    for (const [resource, quantity] of Object.entries(container.resources?.limits ?? {})) {
      const count = Number(quantity);
      if (this.devices.devices(resource).length === 0 || !Number.isInteger(count) || count <= 0)
        continue;
      const served = await this.devices.allocate(
        uid,
        resource,
        count,
        reusable.get(resource) ?? [],
      );
      ids.set(resource, served.ids);
      this.podResources.record(
        { uid, namespace, name },
        { name: container.name, listed: listedByKubelet(pod, container) },
        resource,
        served.ids,
      );
      response = served.response;
    }
    return { ids, response };
  }

  private async setPhase(
    pod: V1Pod,
    outcome: { phase: "Running" | "Failed"; reason?: string; message?: string },
  ): Promise<void> {
    const now = new Date();
    const running = outcome.phase === "Running";
    const condition = (type: string) => ({
      type,
      status: running ? "True" : "False",
      lastTransitionTime: now,
    });
    const containerStatuses = (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? "",
      imageID: "",
      ready: running,
      started: running,
      restartCount: 0,
      state: running ? { running: { startedAt: now } } : { waiting: { reason: outcome.reason } },
    }));
    await this.core.patchNamespacedPodStatus(
      {
        name: pod.metadata?.name ?? "",
        namespace: pod.metadata?.namespace ?? "default",
        body: {
          status: {
            ...outcome,
            hostIP: "127.0.0.1",
            startTime: now,
            conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(condition),
            containerStatuses,
          },
        },
      },
      MERGE_PATCH,
    );
  }
}
