// How Allocate records what it served on the pod (-to-allocate erased, bind-phase success): the
// scheduler's bind guard and a restarted agent read it there. Direct: the API patch before the
// answer (one round trip on every Allocate). Durable: the node-local served log first (one
// fdatasync), the answer, then the patch, sent again after a restart until the API has it.

import type { PodApi } from "../k8s/index.js";
import { ConflictError, isStatus } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";
import { ServedLog, type ServedRecord } from "./served-log.js";

export interface ServedPod {
  uid: string;
  namespace: string;
  name: string;
}

export interface ServedRecorder {
  /** Resolves once the record survives this process: on disk, or on the pod. */
  record(pod: ServedPod, container: number, annotations: Record<string, string>): Promise<void>;
  /** Served before a restart, and the pod may not say so yet. */
  servedBefore(uid: string, container: number): boolean;
  close(): Promise<void>;
}

export function directRecorder(api: PodApi): ServedRecorder {
  return {
    record: async (pod, _container, annotations) => {
      await api.annotatePod({ namespace: pod.namespace, name: pod.name }, annotations);
    },
    servedBefore: () => false,
    close: () => Promise.resolve(),
  };
}

const MAX_RETRY_MS = 5_000;

/** The served log in `file`; records found there from before a restart are patched again. */
export async function durableRecorder(
  file: string,
  api: PodApi,
  log: Logger,
): Promise<ServedRecorder> {
  const opened = await ServedLog.open(file, log);
  const recorder = new DurableRecorder(opened.log, api, log);
  recorder.restore(opened.pending);
  return recorder;
}

const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

class DurableRecorder implements ServedRecorder {
  private readonly served: ServedLog;
  private readonly api: PodApi;
  private readonly log: Logger;
  /** Per pod uid, its patches in order: a later one never lands before an earlier one. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Per pod uid, containers served before a restart whose patch has not landed. */
  private readonly restored = new Map<string, Set<number>>();
  private closed = false;

  constructor(served: ServedLog, api: PodApi, log: Logger) {
    this.served = served;
    this.api = api;
    this.log = log;
  }

  /** Each pod's latest record carries everything served (its -to-allocate is what was left). */
  restore(pending: readonly ServedRecord[]): void {
    const latest = new Map<string, ServedRecord>();
    for (const record of pending) {
      const containers = this.restored.get(record.uid) ?? new Set<number>();
      containers.add(record.container);
      this.restored.set(record.uid, containers);
      const known = latest.get(record.uid);
      if (known === undefined || record.id > known.id) latest.set(record.uid, record);
    }
    for (const record of pending)
      if (latest.get(record.uid) !== record) void this.served.done(record.id);
    for (const record of latest.values()) {
      this.log.info(
        { pod: `${record.namespace}/${record.name}`, container: record.container },
        "served before a restart; recording it on the pod again",
      );
      this.send(record);
    }
  }

  async record(
    pod: ServedPod,
    container: number,
    annotations: Record<string, string>,
  ): Promise<void> {
    this.send(await this.served.append({ ...pod, container, annotations }));
  }

  servedBefore(uid: string, container: number): boolean {
    return this.restored.get(uid)?.has(container) === true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.served.close();
  }

  /** The patch starts on the next turn of the event loop: building an API request takes about a
   * millisecond of this thread, which the kubelet's answer must not wait for. */
  private send(record: ServedRecord): void {
    const previous = this.chains.get(record.uid) ?? Promise.resolve();
    const next = previous.then(nextTurn).then(() => this.patch(record));
    this.chains.set(record.uid, next);
    void next.then(() => {
      if (this.chains.get(record.uid) === next) this.chains.delete(record.uid);
    });
  }

  /** Until the API has it, the pod is gone, or the agent stops (the log keeps it then). The uid
   * in the patch makes it fail on another pod of the same name. */
  private async patch(record: ServedRecord): Promise<void> {
    const { uid, namespace, name } = record;
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.api.annotatePod({ namespace, name, uid }, record.annotations);
        break;
      } catch (error) {
        // 404: deleted; a uid that is not the pod's: 422 from kube-apiserver 1.36 (uid is immutable), or
        // 409 (annotatePod's ConflictError) where a precondition is checked first.
        if (isStatus(error, 404) || error instanceof ConflictError || isStatus(error, 422)) {
          this.log.warn({ pod: `${namespace}/${name}`, uid, err: error }, "served pod gone");
          break;
        }
        this.log.warn(
          { pod: `${namespace}/${name}`, attempt, err: error },
          "recording a served container failed, retrying",
        );
        // Unref'd: a stopping agent does not wait out a pause (the log keeps the record).
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(MAX_RETRY_MS, 100 * attempt)).unref(),
        );
      }
    }
    if (this.closed) return;
    this.restored.delete(uid);
    await this.served.done(record.id).catch((error: unknown) => {
      this.log.warn(
        { err: error },
        "could not mark a served record done; it is sent again on restart",
      );
    });
  }
}
