// Pods not bound to a node yet, for the page's "pending" list with the reason each fits nowhere.
// Only what the page needs is kept; a pod leaves once bound, finished or deleted.

import type { V1Pod } from "@kubernetes/client-node";

/** At most this many pending pods are kept (the page shows the oldest). */
export const MAX_PENDING = 1_000;

function waiting(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return (pod.spec?.nodeName ?? "") === "" && pod.metadata?.deletionTimestamp === undefined;
}

export class PendingPods {
  private readonly pods = new Map<string, V1Pod>();

  set(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? "";
    if (!waiting(pod)) this.pods.delete(uid);
    else if (this.pods.has(uid) || this.pods.size < MAX_PENDING) this.pods.set(uid, pod);
  }

  get(uid: string): V1Pod | undefined {
    return this.pods.get(uid);
  }

  remove(pod: V1Pod): void {
    this.pods.delete(pod.metadata?.uid ?? "");
  }

  /** The oldest first. */
  oldest(limit: number): V1Pod[] {
    const created = (p: V1Pod): number => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
    return [...this.pods.values()].sort((a, b) => created(a) - created(b)).slice(0, limit);
  }
}
