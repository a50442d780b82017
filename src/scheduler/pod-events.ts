// Pod Events from filter (HAMi's FilteringSucceed / FilteringFailed). kube-scheduler retries an
// unschedulable pod with backoff, so the same verdict repeats: one Event per pod, reason and message
// per window, with a bounded memory of what was said.

import type { V1Pod } from "@kubernetes/client-node";
import type { Pod } from "../core/index.js";
import type { PodApi, PodEvent } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";
import { COMPONENT } from "./binder.js";

const WINDOW_MS = 5 * 60_000;
const REMEMBERED = 10_000;

export function podEventRecorder(
  api: PodApi,
  log: Logger,
  now: () => number = Date.now,
): (pod: Pod, event: PodEvent) => void {
  const said = new Map<string, number>();
  return (pod, event) => {
    const key = `${pod.metadata?.uid ?? ""}\n${event.reason}\n${event.message}`;
    const last = said.get(key);
    if (last !== undefined && now() - last < WINDOW_MS) return;
    if (said.size >= REMEMBERED) said.clear();
    said.set(key, now());
    void api.recordEvent(pod as V1Pod, event, COMPONENT).catch((error: unknown) => {
      log.warn(
        { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, err: error },
        "could not record the pod event",
      );
    });
  };
}
