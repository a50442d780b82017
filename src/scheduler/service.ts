// Feeds the ClusterView from informers on Nodes, agent Leases, Pods and ResourceQuotas, and exposes device stats
// for the metrics. The view is rebuilt from these lists on every start.

import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Lease,
  type V1Node,
  type V1Pod,
  type V1ResourceQuota,
} from "@kubernetes/client-node";
import { migFree, NO_USAGE } from "../core/index.js";
import { startInformer, type RunningInformer } from "../k8s/index.js";
import type { DeviceStat, Logger } from "../telemetry/index.js";
import type { ClusterView } from "./view.js";

export interface ViewFeed {
  synced: Promise<void>;
  isSynced(): boolean;
  stop(): Promise<void>;
}

export function feedView(
  kc: KubeConfig,
  view: ClusterView,
  options: { leaseNamespace: string; log: Logger },
): ViewFeed {
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const onError = (what: string) => (error: unknown, retryInMs: number) => {
    options.log.warn({ err: error, retryInMs }, `${what} informer failed, restarting`);
  };
  const informers: RunningInformer<unknown>[] = [
    startInformer<V1Node>(
      kc,
      { path: "/api/v1/nodes", list: () => core.listNode(), onError: onError("node") },
      {
        add: (n) => {
          view.setNode(n);
        },
        update: (n) => {
          view.setNode(n);
        },
        delete: (n) => {
          view.removeNode(n.metadata?.name ?? "");
        },
      },
    ),
    startInformer<V1Lease>(
      kc,
      {
        path: `/apis/coordination.k8s.io/v1/namespaces/${options.leaseNamespace}/leases`,
        list: () => coordination.listNamespacedLease({ namespace: options.leaseNamespace }),
        onError: onError("lease"),
      },
      {
        add: (l) => {
          view.setLease(l);
        },
        update: (l) => {
          view.setLease(l);
        },
        delete: (l) => {
          view.removeLease(l);
        },
      },
    ),
    startInformer<V1Pod>(
      kc,
      { path: "/api/v1/pods", list: () => core.listPodForAllNamespaces(), onError: onError("pod") },
      {
        add: (p) => {
          view.setPod(p);
        },
        update: (p) => {
          view.setPod(p);
        },
        delete: (p) => {
          view.removePod(p);
        },
      },
    ),
    startInformer<V1ResourceQuota>(
      kc,
      {
        path: "/api/v1/resourcequotas",
        list: () => core.listResourceQuotaForAllNamespaces(),
        onError: onError("resourcequota"),
      },
      {
        add: (q) => {
          view.quotas.setQuota(q);
        },
        update: (q) => {
          view.quotas.setQuota(q);
        },
        delete: (q) => {
          view.quotas.removeQuota(q);
        },
      },
    ),
  ];
  return {
    synced: Promise.all(informers.map((i) => i.synced)).then(() => undefined),
    isSynced: () => informers.every((i) => i.isSynced()),
    stop: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

/** Per-device accounting for the gauges. */
export function deviceStats(view: ClusterView): DeviceStat[] {
  const stats: DeviceStat[] = [];
  for (const node of view.nodeNames()) {
    const candidate = view.candidate(node);
    const holders = view.holders(node);
    for (const [i, device] of candidate.devices.entries()) {
      const used = candidate.usage[i] ?? NO_USAGE;
      const slices = holders.flatMap((h) =>
        h.devices.flatMap((container, containerIndex) =>
          container
            .filter((d) => d.uuid === device.uuid)
            .map((d) => ({
              namespace: h.namespace,
              pod: h.name,
              containerIndex,
              memoryMiB: d.memoryMiB,
              cores: d.cores,
            })),
        ),
      );
      stats.push({
        node,
        uuid: device.uuid,
        index: device.index,
        type: device.type,
        memoryCapacityMiB: device.memoryMiB,
        cores: device.cores,
        memoryAllocatedMiB: used.memoryMiB,
        coresAllocated: Math.min(used.cores, device.cores),
        mode: device.mode,
        ...(device.migProfiles === undefined
          ? {}
          : { mig: migFree(device.migProfiles, used.mig ?? []) }),
        slices,
      });
    }
  }
  return stats;
}
