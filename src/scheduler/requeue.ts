// kube-scheduler retries a pod our filter refused only when some cluster event arrives (or after
// five minutes). When devices are freed, the event kube-scheduler saw (the pod's deletion) may have
// been handled before our view caught up, so a refused pod could wait minutes for capacity that is
// already free. After a release, if we refused any pod since the last time, we touch an annotation
// of ours on the node: a node update, which requeues pods refused by an extender.

import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { MERGE_PATCH } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";

export const RELEASED_ANNOTATION = "hami.io/scheduler-released-at";

export interface Requeue {
  /** The filter refused a pod on some node. */
  refused(): void;
  /** A pod stopped holding devices on a node. */
  released(node: string): void;
  stop(): void;
}

export function requeueOnRelease(kc: KubeConfig, log: Logger, debounceMs = 250): Requeue {
  const core = kc.makeApiClient(CoreV1Api);
  let refusedSinceNudge = false;
  const due = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const nodes = [...due];
    due.clear();
    const annotations = { [RELEASED_ANNOTATION]: new Date().toISOString() };
    for (const name of nodes)
      core
        .patchNode({ name, body: { metadata: { annotations } } }, MERGE_PATCH)
        .catch((error: unknown) => {
          log.warn({ node: name, err: error }, "could not nudge kube-scheduler after a release");
        });
  };
  return {
    refused: () => {
      refusedSinceNudge = true;
    },
    released: (node) => {
      if (!refusedSinceNudge) return;
      refusedSinceNudge = false;
      due.add(node);
      timer ??= setTimeout(flush, debounceMs);
    },
    stop: () => {
      clearTimeout(timer);
    },
  };
}
