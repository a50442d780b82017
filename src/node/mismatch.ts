// What the agent does when the kubelet gave a container it served other device IDs than the agent
// answered for it (the PodResources check in verify.ts found it): the container runs with the
// limits answered for those other IDs. Never silent: its pod is marked bind-phase failed, with a
// Warning Event naming whose limits it got, an audit event and an error log line.

import type { Holder, ServedContainer } from "../core/index.js";
import { eventId, type EventBus } from "../events/index.js";
import type { PodApi } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";
import { warnPod } from "./pod-warning.js";
import type { Found } from "./verify.js";

export interface MismatchDeps {
  node: string;
  api: PodApi;
  bus?: EventBus;
  log: Logger;
  clock: () => Date;
}

const ref = (h: Holder): string => `${h.namespace}/${h.name} container ${h.container}`;

export async function reportMismatch(
  deps: MismatchDeps,
  served: ServedContainer,
  found: Found,
): Promise<void> {
  const { api, log } = deps;
  const held = found.held.join(",");
  const whose =
    found.answeredFor === undefined
      ? "limits hami answered for no container it remembers"
      : `the limits hami answered for ${ref(found.answeredFor)}`;
  const message = `container ${served.container} was given devices ${held} with ${whose}; hami answered devices ${served.deviceIds.join(",")} for it`;
  log.error(
    {
      pod: `${served.namespace}/${served.name}`,
      node: deps.node,
      container: served.container,
      devices: found.held,
      answered: served.deviceIds,
      answeredFor: found.answeredFor === undefined ? undefined : ref(found.answeredFor),
      reason: "allocation mismatch",
    },
    "the kubelet gave the container other devices than the agent answered for it",
  );
  const pod = await warnPod(api, served, { reason: "AllocationMismatch", message, failBind: true });
  if (pod === undefined) return;
  const uid = pod.metadata?.uid ?? "";
  deps.bus?.publish({
    type: "mismatch",
    version: 1,
    time: deps.clock().toISOString(),
    id: eventId("mismatch", uid, `${served.container}-${held}`),
    pod: { uid, namespace: served.namespace, name: served.name },
    node: deps.node,
    containers: [{ name: served.container, devices: [] }],
    reason: message,
  });
}
