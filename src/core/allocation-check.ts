// After Allocate: did the kubelet give the devices to the pod the agent served? Allocate
// carries device IDs only, so the agent names the pod by its own reasoning; the kubelet's
// PodResources listing says who really holds those IDs. Pure: the listing comes in as data.

export interface ServedContainer {
  namespace: string;
  name: string;
  container: string;
  resource: string;
  deviceIds: readonly string[];
}

export interface ListedPod {
  namespace: string;
  name: string;
  containers: readonly {
    name: string;
    devices: readonly { resource_name: string; device_ids: readonly string[] }[];
  }[];
}

export interface Holder {
  namespace: string;
  name: string;
  container: string;
}

export type AllocationVerdict =
  | { kind: "match" }
  /** The kubelet lists none (or not all) of the IDs yet: ask again shortly. */
  | { kind: "pending" }
  | { kind: "mismatch"; holders: Holder[] };

export function checkServed(
  served: ServedContainer,
  listing: readonly ListedPod[],
): AllocationVerdict {
  const wanted = new Set(served.deviceIds);
  const found = new Set<string>();
  const others: Holder[] = [];
  for (const pod of listing)
    for (const container of pod.containers) {
      const ids = container.devices
        .filter((d) => d.resource_name === served.resource)
        .flatMap((d) => d.device_ids)
        .filter((id) => wanted.has(id));
      // The kubelet lets app containers reuse the devices of their pod's init containers, so
      // another container of the same pod may list them too: the pod's own limits either way.
      const samePod = pod.namespace === served.namespace && pod.name === served.name;
      if (samePod && container.name === served.container) ids.forEach((id) => found.add(id));
      else if (!samePod && ids.length > 0)
        others.push({ namespace: pod.namespace, name: pod.name, container: container.name });
    }
  if (others.length > 0) return { kind: "mismatch", holders: others };
  return found.size === wanted.size ? { kind: "match" } : { kind: "pending" };
}
