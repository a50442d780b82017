// Informers that keep running. client-node's ListWatch stops for good on any error other than a
// 410, and users report watches that go silent; this wrapper restarts with backoff on error, re-opens
// the watch when nothing arrived for a while, and says when the first list has loaded.

import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";

export interface InformerHandlers<T> {
  add?: (object: T) => void;
  update?: (object: T) => void;
  delete?: (object: T) => void;
}

export interface InformerOptions<T extends KubernetesObject> {
  /** API path of the collection, e.g. /api/v1/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  /** Re-open the watch when no event came for this long (default 5 min). */
  watchdogMs?: number;
  onError?: (error: unknown, retryInMs: number) => void;
}

export interface RunningInformer<T> {
  /** Resolves once the first list has been delivered to the handlers. */
  synced: Promise<void>;
  isSynced(): boolean;
  list(): readonly T[];
  stop(): Promise<void>;
}

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  options: InformerOptions<T>,
  handlers: InformerHandlers<T>,
): RunningInformer<T> {
  const cache = new ListWatch<T>(
    options.path,
    new Watch(kc),
    options.list,
    false,
    options.labelSelector,
    options.fieldSelector,
  );
  let stopped = false;
  let synced = false;
  let backoff = MIN_BACKOFF_MS;
  let lastEvent = Date.now();
  let retry: NodeJS.Timeout | undefined;
  const seen = (): void => {
    lastEvent = Date.now();
    backoff = MIN_BACKOFF_MS;
  };
  cache.on("add", (object: T) => {
    seen();
    handlers.add?.(object);
  });
  cache.on("update", (object: T) => {
    seen();
    handlers.update?.(object);
  });
  cache.on("delete", (object: T) => {
    seen();
    handlers.delete?.(object);
  });
  let markSynced: () => void = () => undefined;
  const syncedPromise = new Promise<void>((resolve) => {
    markSynced = resolve;
  });
  // ListWatch reports a failed list through the error callback and still resolves start().
  let errors = 0;
  const run = (): void => {
    if (stopped) return;
    const errorsBefore = errors;
    cache.start().then(
      () => {
        if (!synced && errors === errorsBefore) {
          synced = true;
          markSynced();
        }
      },
      (error: unknown) => {
        restart(error);
      },
    );
  };
  const restart = (error: unknown): void => {
    if (stopped) return;
    const wait = backoff;
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    options.onError?.(error, wait);
    clearTimeout(retry);
    retry = setTimeout(run, wait);
  };
  cache.on("error", (error: unknown) => {
    errors++;
    restart(error);
  });
  const watchdogMs = options.watchdogMs ?? 5 * 60_000;
  const watchdog = setInterval(
    () => {
      if (stopped || Date.now() - lastEvent < watchdogMs) return;
      lastEvent = Date.now();
      void cache.stop().then(run);
    },
    Math.min(watchdogMs, 30_000),
  );
  watchdog.unref();
  run();
  return {
    synced: syncedPromise,
    isSynced: () => synced,
    list: () => cache.list(),
    stop: async () => {
      stopped = true;
      clearTimeout(retry);
      clearInterval(watchdog);
      await cache.stop();
    },
  };
}
