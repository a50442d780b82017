// A Warning Event on a pod the agent could not serve rightly, with bind-phase failed when asked:
// best effort (the pod may be gone), so a failed write never hides the failure it reports.

import type { V1Pod } from "@kubernetes/client-node";
import { Annotation, BindPhase } from "../core/index.js";
import type { PodApi } from "../k8s/index.js";

/** Returns the pod as read for the Event, or undefined when it could not be read. */
export async function warnPod(
  api: PodApi,
  ref: { namespace: string; name: string },
  event: { reason: string; message: string; failBind: boolean },
): Promise<V1Pod | undefined> {
  if (event.failBind)
    await api
      .annotatePod(
        { namespace: ref.namespace, name: ref.name },
        { [Annotation.bindPhase]: BindPhase.failed },
      )
      .catch(() => undefined);
  const pod = await api.readPod(ref.namespace, ref.name).catch(() => undefined);
  if (pod !== undefined)
    await api
      .recordEvent(
        pod,
        { type: "Warning", reason: event.reason, message: event.message },
        "hami-node",
      )
      .catch(() => undefined);
  return pod;
}
