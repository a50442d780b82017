// What the agent does when the kubelet gave the devices it answered for one container to another
// container (the PodResources check in verify.ts found it): never silent. Each container that got
// them has its pod marked bind-phase failed, with a Warning Event and an audit event; the pod that
// was served gets an Event too.

import type { Holder, ServedContainer } from "../core/index.js";
import { eventId, type EventBus } from "../events/index.js";
import type { PodApi } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";
import { warnPod } from "./pod-warning.js";

export interface MismatchDeps {
  node: string;
  api: PodApi;
  bus?: EventBus;
  log: Logger;
  clock: () => Date;
}

const ref = (h: Holder): string => `${h.namespace}/${h.name}/${h.container}`;

export async function reportMismatch(
  deps: MismatchDeps,
  served: ServedContainer,
  holders: readonly Holder[],
): Promise<void> {
  const { api, log } = deps;
  const ids = served.deviceIds.join(",");
  const servedRef = `${served.namespace}/${served.name} container ${served.container}`;
  log.error(
    {
      pod: `${served.namespace}/${served.name}`,
      node: deps.node,
      devices: served.deviceIds,
      holders: holders.map(ref),
      reason: "allocation mismatch",
    },
    "the kubelet gave the devices to another container than the one served",
  );
  for (const holder of holders) {
    const message = `container ${holder.container} was given devices ${ids} with the limits hami answered for ${servedRef}`;
    const pod = await warnPod(api, holder, {
      reason: "AllocationMismatch",
      message,
      failBind: true,
    });
    if (pod === undefined) continue;
    const uid = pod.metadata?.uid ?? "";
    deps.bus?.publish({
      type: "mismatch",
      version: 1,
      time: deps.clock().toISOString(),
      id: eventId("mismatch", uid, `${holder.container}-${ids}`),
      pod: { uid, namespace: holder.namespace, name: holder.name },
      node: deps.node,
      containers: [{ name: holder.container, devices: [] }],
      reason: message,
    });
  }
  const message = `devices ${ids} answered for container ${served.container} went to ${holders.map(ref).join(", ")}`;
  await warnPod(api, served, { reason: "AllocationMismatch", message, failBind: false });
}
