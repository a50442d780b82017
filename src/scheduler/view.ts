// The extender's live picture of the cluster, fed by informers (Nodes, agent Leases, Pods) and by
// its own binds. Usage is derived from pods that carry allocation annotations and are not terminal;
// nothing here survives a restart, it is rebuilt from the API. Decisions stay in core: this only
// turns API objects into core's NodeCandidate.

import type { V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import { describeNodeSettings } from "../config/index.js";
import { PendingPods } from "./pending.js";
import { QuotaBook } from "./quotas.js";
import { ArrivalWorkload, containerClasses } from "./workload.js";
import { allocationOf, awaitingOf, devicesKey, heldDevices, holdsDevices } from "./pod-holding.js";
import {
  AGENT_LEASE_PREFIX,
  Annotation,
  awaitingCounts,
  confusable,
  decodeNodeDevices,
  decodePairScores,
  parseDeviceCordon,
  podUsage,
  usageOnDevices,
  type Device,
  type DeviceTable,
  type DeviceUsage,
  type NodeCandidate,
  type PairScores,
  type PodDevices,
  type TaskClass,
} from "../core/index.js";
import { NodeRows } from "./node-rows.js";

/** A pod's devices on a node, from its annotations or from a bind in flight. */
export interface Holding {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  devices: PodDevices;
  usage: Map<string, DeviceUsage>;
  /** Device counts of the containers still waiting for Allocate (awaitingCounts). */
  awaiting: number[];
  /** When it was bound (ms), for the expiry of a wait on its Allocate. */
  boundAt: number;
}

interface NodeRecord {
  devices: Device[];
  /** GPU pair scores the agent publishes (hami.io/node-nvidia-score), for topology-aware. */
  pairScores?: PairScores;
  /** Why the register annotation could not be used. */
  error?: string;
  registeredAt?: number;
  /** The kubelet's allocatable count of ViewOptions.offeredResource. */
  offered?: number;
  /** The register and cordon annotations as read: equal keys, equal devices. */
  key?: string;
}

export interface ViewOptions {
  /** Milliseconds since the epoch; injected so tests control expiry. */
  now: () => number;
  /** A register annotation older than this makes the node unavailable (0 = never stale). */
  registerStaleMs: number;
  /** Nodes without any agent Lease are available when true (no agent liveness yet). */
  requireLease: boolean;
  /** When set, a node whose kubelet offers none of this resource (the device plugin is not
   * registered yet, e.g. just after a kubelet restart) is unavailable: the kubelet would fail the
   * pod ("Allocate failed due to no healthy devices present"). kube-scheduler no longer checks it,
   * since every GPU resource is ignoredByScheduler. */
  offeredResource?: string;
  onInvalid?: (what: string, error: unknown) => void;
  /** Called when a node may take pods it could not before: a pod stopped holding devices there
   * (deleted, finished, moved), its agent Lease appeared or came back from expiry, it became
   * usable (registered, its kubelet offers the resource again) or its devices changed. */
  onRelease?: (node: string) => void;
}

/** One string object per device type across the cluster: filters compare the types of every
 * device of every node, and equal objects compare at once. */
const types = new Map<string, string>();
function internType(type: string): string {
  const known = types.get(type);
  if (known !== undefined) return known;
  if (types.size < 10_000) types.set(type, type);
  return type;
}

function sameHolding(a: Holding, b: Holding): boolean {
  return a.node === b.node && devicesKey(a.devices) === devicesKey(b.devices);
}

/** When an agent Lease runs out (ms since the epoch). */
function leaseExpiry(lease: V1Lease): number {
  const renewed = Date.parse(String(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? ""));
  return renewed + (lease.spec?.leaseDurationSeconds ?? 40) * 1000;
}

export function podIdentity(pod: V1Pod): { uid: string; namespace: string; name: string } {
  const meta = pod.metadata ?? {};
  return { uid: meta.uid ?? "", namespace: meta.namespace ?? "", name: meta.name ?? "" };
}

export class ClusterView {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly leases = new Map<string, number>();
  /** What pods' annotations say they hold. */
  private readonly annotated = new Map<string, Holding>();
  /** Binds in flight; they win over annotations until the matching annotations arrive. */
  private readonly reservations = new Map<string, Holding>();
  /** The effective holding of each pod, indexed by node. */
  private readonly perNode = new Map<string, Map<string, Holding>>();
  private readonly placedOn = new Map<string, string>();
  private readonly usageCache = new Map<string, DeviceUsage[]>();
  private readonly options: ViewOptions;
  private changes = 0;
  /** What the pods placed asked, by recency (workload.ts). */
  private readonly arrivals = new ArrivalWorkload();
  /** Pods already counted as arrivals (a bind undone and redone counts once). */
  private readonly counted = new Set<string>();
  private workloadCache: { generation: number; classes: TaskClass[] } | undefined;
  /** Per node, the generation of its last change (devices, lease or the pods on it). */
  private readonly nodeChanges = new Map<string, number>();
  /** Namespace GPU quotas and what each namespace holds, kept in step with the holdings. */
  readonly quotas = new QuotaBook();
  /** Pods not bound yet (the page lists the GPU ones with why they wait). */
  readonly pending = new PendingPods();
  /** Per node, its agent's effective device settings and where each came from, in one line. */
  readonly settings = new Map<string, string>();
  /** Per node, who waits for its next change. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Every node's devices as numbers, for filter's fast path (node-rows.ts). */
  readonly rows: NodeRows = new NodeRows({
    known: (name) => this.nodes.has(name),
    write: (table, row, name) => this.writeRow(table, row, name),
    heldOn: (uid) => this.placedOn.get(uid),
    now: () => this.options.now(),
  });

  constructor(options: ViewOptions) {
    this.options = options;
  }

  /** Grows on every change, so a decision computed at one generation can be reused at the same. */
  get generation(): number {
    return this.changes;
  }

  /** Changes whenever anything about one node changes, so a per-node decision can be reused. */
  nodeVersion(name: string): number {
    return this.nodeChanges.get(name) ?? 0;
  }

  /** Resolves at the next change on `node` (devices, lease or the pods on it), or after `ms`. */
  changed(node: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(node) ?? new Set<() => void>();
      const wake = (): void => {
        clearTimeout(timer);
        waiting.delete(wake);
        if (waiting.size === 0) this.waiters.delete(node);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiting.add(wake);
      this.waiters.set(node, waiting);
    });
  }

  /** Whether a pod already holds (or reserved) devices on a node. */
  holds(uid: string, node: string): boolean {
    return this.placedOn.get(uid) === node;
  }

  private touch(node: string): void {
    this.rows.changed(node);
    this.changes++;
    this.nodeChanges.set(node, this.changes);
    this.usageCache.delete(node);
    for (const wake of [...(this.waiters.get(node) ?? [])]) wake();
  }

  setNode(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    const before = this.nodes.get(name);
    this.record(name, node);
    // kube-scheduler may have retried a pod on this node's own update before this view saw it: a
    // refusal on the old record would then wait for some unrelated event.
    const after = this.nodes.get(name);
    if (after === undefined || this.unavailable(name, after) !== undefined) return;
    if (
      before === undefined ||
      this.unavailable(name, before) !== undefined ||
      before.key !== after.key
    )
      this.options.onRelease?.(name);
  }

  private record(name: string, node: V1Node): void {
    this.touch(name);
    if (!this.nodes.has(name)) this.rows.added();
    const annotations = node.metadata?.annotations ?? {};
    const settings = describeNodeSettings(annotations[Annotation.nodeSettings]);
    if (settings === undefined) this.settings.delete(name);
    else this.settings.set(name, settings);
    const raw = annotations[Annotation.nodeRegister];
    const time = annotations[Annotation.nodeRegisterTime];
    const registeredAt = time === undefined ? undefined : Date.parse(time);
    if (raw === undefined) {
      this.nodes.set(name, { devices: [], error: `no ${Annotation.nodeRegister} annotation` });
      return;
    }
    const offered = this.offered(node);
    try {
      const cordon = parseDeviceCordon(annotations[Annotation.deviceCordon]);
      const pairScores = this.pairScores(name, annotations[Annotation.nodeScores]);
      this.nodes.set(name, {
        ...(pairScores === undefined ? {} : { pairScores }),
        devices: decodeNodeDevices(raw).map((d) => ({
          ...d,
          type: internType(d.type),
          ...(cordon.has(d.uuid) ? { cordoned: true } : {}),
        })),
        registeredAt,
        ...(offered === undefined ? {} : { offered }),
        key: `${raw}\n${annotations[Annotation.deviceCordon] ?? ""}`,
      });
    } catch (error) {
      this.options.onInvalid?.(`node ${name}`, error);
      this.nodes.set(name, { devices: [], error: (error as Error).message });
    }
  }

  /** A node's pair scores; unreadable ones are reported and left out (topology-aware then places
   * as binpack there), never making the node unusable. */
  private pairScores(node: string, raw: string | undefined): PairScores | undefined {
    if (raw === undefined) return undefined;
    try {
      return decodePairScores(raw);
    } catch (error) {
      this.options.onInvalid?.(`node ${node} ${Annotation.nodeScores}`, error);
      return undefined;
    }
  }

  private offered(node: V1Node): number | undefined {
    const resource = this.options.offeredResource;
    return resource === undefined ? undefined : Number(node.status?.allocatable?.[resource] ?? 0);
  }

  removeNode(name: string): void {
    this.touch(name);
    if (this.nodes.delete(name)) this.rows.removed(name);
    this.settings.delete(name);
  }

  setLease(lease: V1Lease): void {
    const name = lease.metadata?.name ?? "";
    if (!name.startsWith(AGENT_LEASE_PREFIX)) return;
    const node = name.slice(AGENT_LEASE_PREFIX.length);
    this.touch(node);
    const before = this.leases.get(node);
    this.leases.set(node, leaseExpiry(lease));
    // An agent (back) alive is no Node event: kube-scheduler would not retry a pod refused meanwhile.
    if (before === undefined || before < this.options.now()) this.options.onRelease?.(node);
  }

  removeLease(lease: V1Lease): void {
    this.touch((lease.metadata?.name ?? "").slice(AGENT_LEASE_PREFIX.length));
    this.leases.delete((lease.metadata?.name ?? "").slice(AGENT_LEASE_PREFIX.length));
  }

  /** Records (or forgets) what a pod holds, from its allocation annotations. */
  setPod(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (uid === undefined) return;
    this.pending.set(pod);
    const holding = this.holdingOf(pod);
    if (holding === undefined) this.annotated.delete(uid);
    else this.annotated.set(uid, holding);
    const reserved = this.reservations.get(uid);
    if (reserved !== undefined && holding !== undefined && sameHolding(reserved, holding))
      this.reservations.delete(uid);
    this.place(uid);
  }

  removePod(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? "";
    this.counted.delete(uid);
    this.pending.remove(pod);
    this.annotated.delete(uid);
    this.reservations.delete(uid);
    this.place(uid);
  }

  /** A bind in flight holds its devices until the pod's annotations arrive or it is undone; all
   * its containers wait for Allocate. Returns when it was first reserved: a bind that waits keeps
   * its place in line. */
  reserve(holding: Omit<Holding, "awaiting" | "boundAt">): number {
    const boundAt = this.reservations.get(holding.uid)?.boundAt ?? this.options.now();
    this.reservations.set(holding.uid, {
      ...holding,
      awaiting: awaitingCounts(holding.devices),
      boundAt,
    });
    this.place(holding.uid);
    return boundAt;
  }

  /** A pod on `node`, bound or reserved before `self` (first come, first served), whose Allocate is
   * still due and could be confused with one of a pod asking `counts` (the kubelet may admit them
   * in either order), bound less than `expiryMs` ago. Only on nodes with an agent Lease: without
   * an agent nothing serves Allocate. */
  awaitingAllocate(
    node: string,
    counts: readonly number[],
    self: { uid: string; since: number },
    expiryMs: number,
  ): Holding | undefined {
    if (!this.leases.has(node)) return undefined;
    const now = this.options.now();
    // A bound pod (its annotations arrived) is in the kubelet's hands: it holds back every
    // confusable bind, whenever that bind started. Binds in flight go first come, first served, so
    // two of them never wait on each other. (Ordering bound pods by their bind time instead let a
    // bind that had waited behind one go ahead of it once it was bound: the adversarial-kubelet
    // test caught two same-shape pods waiting for Allocate at once.)
    const before = (h: Holding): boolean =>
      this.annotated.has(h.uid) ||
      h.boundAt < self.since ||
      (h.boundAt === self.since && h.uid < self.uid);
    for (const holding of this.perNode.get(node)?.values() ?? [])
      if (
        holding.uid !== self.uid &&
        before(holding) &&
        now - holding.boundAt < expiryMs &&
        confusable(holding.awaiting, counts)
      )
        return holding;
    return undefined;
  }

  unreserve(uid: string): void {
    if (this.reservations.delete(uid)) this.place(uid);
  }

  private place(uid: string): void {
    this.changes++;
    const before = this.placedOn.get(uid);
    if (before !== undefined) {
      this.perNode.get(before)?.delete(uid);
      this.touch(before);
      this.placedOn.delete(uid);
    }
    const effective = this.reservations.get(uid) ?? this.annotated.get(uid);
    this.quotas.hold(uid, effective);
    if (before !== undefined && effective?.node !== before) this.options.onRelease?.(before);
    if (effective === undefined) return;
    if (before === undefined) this.arrived(uid, effective);
    const onNode = this.perNode.get(effective.node) ?? new Map<string, Holding>();
    onNode.set(uid, effective);
    this.perNode.set(effective.node, onNode);
    this.placedOn.set(uid, effective.node);
    this.touch(effective.node);
  }

  /** Counts a pod's first placement in the workload. */
  private arrived(uid: string, holding: Holding): void {
    if (this.counted.has(uid)) return;
    this.counted.add(uid);
    const memory = new Map(
      (this.nodes.get(holding.node)?.devices ?? []).map((d) => [d.uuid, d.memoryMiB]),
    );
    this.arrivals.arrive(containerClasses(holding.devices, memory), this.options.now());
  }

  /** The GPU requests of the pods placed, weighted by how recently (workload.ts): the workload
   * the fgd policy measures fragmentation against. A whole GPU when nothing was placed yet. */
  workload(): TaskClass[] {
    const generation = this.arrivals.generation;
    if (this.workloadCache?.generation === generation) return this.workloadCache.classes;
    const counted = this.arrivals.classes();
    const classes = counted.length === 0 ? [{ gpus: 1, share: 1, weight: 1 }] : counted;
    this.workloadCache = { generation, classes };
    return classes;
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /** Pods holding devices on a node (reservations included). */
  holders(node: string): Holding[] {
    return [...(this.perNode.get(node)?.values() ?? [])];
  }

  /** The node as core sees it; `exclude` leaves one pod's own holding out (re-planning it). */
  candidate(name: string, exclude?: string): NodeCandidate {
    const record = this.nodes.get(name);
    if (record === undefined)
      return { name, devices: [], usage: [], unavailable: "node not known to the extender" };
    const usage =
      exclude !== undefined && this.holds(exclude, name)
        ? usageOnDevices(
            record.devices,
            this.holders(name)
              .filter((h) => h.uid !== exclude)
              .map((h) => h.usage),
          )
        : this.usage(name, record.devices);
    const unavailable = this.unavailable(name, record);
    const state = {
      name,
      devices: record.devices,
      usage,
      ...(record.pairScores === undefined ? {} : { pairScores: record.pairScores }),
    };
    return unavailable === undefined ? state : { ...state, unavailable };
  }

  /** Writes a node's row as the node is now; false when the node is not known. */
  private writeRow(table: DeviceTable, row: number, name: string): boolean {
    const record = this.nodes.get(name);
    if (record === undefined) return false;
    const usage = this.usage(name, record.devices);
    table.write(row, record.devices, usage, this.usableUntil(name, record));
    return true;
  }

  private usage(node: string, devices: readonly Device[]): DeviceUsage[] {
    const cached = this.usageCache.get(node);
    if (cached !== undefined) return cached;
    const usage = usageOnDevices(
      devices,
      this.holders(node).map((h) => h.usage),
    );
    this.usageCache.set(node, usage);
    return usage;
  }

  /** Why the node may not take pods now, or undefined. */
  private unavailable(name: string, record: NodeRecord): string | undefined {
    const blocked = this.blocked(name, record);
    if (blocked !== undefined) return blocked;
    const now = this.options.now();
    const expiry = this.leases.get(name);
    if (expiry !== undefined && expiry < now)
      return `agent Lease expired ${Math.round((now - expiry) / 1000)} s ago`;
    const stale = this.options.registerStaleMs;
    if (stale > 0 && record.registeredAt !== undefined && now - record.registeredAt > stale)
      return `${Annotation.nodeRegister} is ${Math.round((now - record.registeredAt) / 1000)} s old`;
    return undefined;
  }

  /** What keeps the node out until something changes (not the time). */
  private blocked(name: string, record: NodeRecord): string | undefined {
    if (record.error !== undefined) return record.error;
    if (!this.leases.has(name) && this.options.requireLease)
      return `no agent Lease ${AGENT_LEASE_PREFIX}${name}: the node agent is not running`;
    if (record.offered !== undefined && !(record.offered > 0))
      return `the kubelet offers no ${this.options.offeredResource ?? ""} (device plugin not registered)`;
    return undefined;
  }

  /** Until when (ms) unavailable says nothing: its Lease's expiry, its registration going stale;
   * -Infinity while it is blocked. */
  private usableUntil(name: string, record: NodeRecord): number {
    if (this.blocked(name, record) !== undefined) return Number.NEGATIVE_INFINITY;
    const stale = this.options.registerStaleMs;
    const registered = record.registeredAt;
    const expiry = this.leases.get(name) ?? Number.POSITIVE_INFINITY;
    const register =
      stale > 0 && registered !== undefined ? registered + stale : Number.POSITIVE_INFINITY;
    // An unreadable time (NaN) never expires in unavailable's comparisons either.
    return Math.min(
      Number.isNaN(expiry) ? Infinity : expiry,
      Number.isNaN(register) ? Infinity : register,
    );
  }

  /** Usage is read from -allocated, as HAMi's scheduler does (the agent erases -to-allocate as it
   * serves); a pod with only -to-allocate (bound, nothing recorded yet) holds that. */
  private holdingOf(pod: V1Pod): Holding | undefined {
    const { raw, node } = allocationOf(pod);
    if (raw === undefined || node === undefined || !holdsDevices(pod)) return undefined;
    const who = podIdentity(pod);
    try {
      const devices = heldDevices(pod);
      const usage = podUsage(devices, pod.spec?.initContainers?.length ?? 0);
      const bindTime = Number(pod.metadata?.annotations?.[Annotation.bindTime] ?? 0);
      return { ...who, node, devices, usage, awaiting: awaitingOf(pod), boundAt: bindTime * 1000 };
    } catch (error) {
      this.options.onInvalid?.(`pod ${who.namespace}/${who.name}`, error);
      return undefined;
    }
  }
}
