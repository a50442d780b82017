// Namespace GPU quotas for the extender: the `limits.*` entries of ResourceQuotas (from an
// informer) and what each namespace's placed pods hold (kept in step with the view's holdings).
// Decisions stay in core (quotaExceeded); this only keeps the numbers.

import type { V1ResourceQuota } from "@kubernetes/client-node";
import type { QuotaStat } from "../telemetry/index.js";
import {
  parseQuantity,
  quotaUsage,
  type DeviceUsage,
  type NamespaceQuota,
  type QuotaAmount,
} from "../core/index.js";

/** A quota's resource names, as written in ResourceQuota.spec.hard. */
export interface QuotaResources {
  memory: string;
  cores: string;
}

function limitsOf(quota: V1ResourceQuota): Map<string, number> {
  const limits = new Map<string, number>();
  for (const [name, raw] of Object.entries(quota.spec?.hard ?? {})) {
    if (!name.startsWith("limits.")) continue;
    const value = parseQuantity(raw);
    if (value !== undefined && Number.isInteger(value) && value >= 0) limits.set(name, value);
  }
  return limits;
}

export class QuotaBook {
  /** namespace -> ResourceQuota name -> resource -> limit. */
  private readonly limits = new Map<string, Map<string, Map<string, number>>>();
  /** namespace -> pod uid -> what it holds. */
  private readonly held = new Map<string, Map<string, QuotaAmount>>();
  private readonly holderNamespace = new Map<string, string>();

  setQuota(quota: V1ResourceQuota): void {
    const { namespace = "", name = "" } = quota.metadata ?? {};
    const byName = this.limits.get(namespace) ?? new Map<string, Map<string, number>>();
    byName.set(name, limitsOf(quota));
    this.limits.set(namespace, byName);
  }

  removeQuota(quota: V1ResourceQuota): void {
    const { namespace = "", name = "" } = quota.metadata ?? {};
    this.limits.get(namespace)?.delete(name);
  }

  /** Records what a pod holds now (undefined: nothing). */
  hold(
    uid: string,
    holding: { namespace: string; usage: ReadonlyMap<string, DeviceUsage> } | undefined,
  ): void {
    const before = this.holderNamespace.get(uid);
    if (before !== undefined) this.held.get(before)?.delete(uid);
    this.holderNamespace.delete(uid);
    if (holding === undefined) return;
    const { namespace, usage } = holding;
    const pods = this.held.get(namespace) ?? new Map<string, QuotaAmount>();
    pods.set(uid, quotaUsage(usage));
    this.held.set(namespace, pods);
    this.holderNamespace.set(uid, namespace);
  }

  /** The strictest limit of each resource over the namespace's ResourceQuotas (each is enforced). */
  private limit(namespace: string, resource: string): number | undefined {
    let strictest: number | undefined;
    for (const limits of this.limits.get(namespace)?.values() ?? []) {
      const value = limits.get(resource);
      if (value !== undefined) strictest = Math.min(strictest ?? value, value);
    }
    return strictest;
  }

  /** The namespace's quota with one pod's own holding left out; undefined without GPU limits. */
  quota(
    namespace: string,
    resources: QuotaResources,
    exclude?: string,
  ): NamespaceQuota | undefined {
    const memoryMiB = this.limit(namespace, resources.memory);
    const cores = this.limit(namespace, resources.cores);
    if (memoryMiB === undefined && cores === undefined) return undefined;
    const used = { memoryMiB: 0, cores: 0 };
    for (const [uid, amount] of this.held.get(namespace) ?? []) {
      if (uid === exclude) continue;
      used.memoryMiB += amount.memoryMiB;
      used.cores += amount.cores;
    }
    return {
      namespace,
      used,
      ...(memoryMiB === undefined ? {} : { memoryMiB }),
      ...(cores === undefined ? {} : { cores }),
    };
  }

  /** For the hami_resource_quota_* gauges: every namespace with a GPU limit. */
  stats(resources: QuotaResources): QuotaStat[] {
    const stats: QuotaStat[] = [];
    for (const namespace of this.limits.keys()) {
      const quota = this.quota(namespace, resources);
      if (quota === undefined) continue;
      const bare = (name: string): string => name.replace(/^limits\./, "");
      stats.push(
        {
          namespace,
          resource: bare(resources.memory),
          used: quota.used.memoryMiB,
          limit: quota.memoryMiB,
        },
        { namespace, resource: bare(resources.cores), used: quota.used.cores, limit: quota.cores },
      );
    }
    return stats;
  }
}
