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
  | { kind: "mismatch"; holders: Holder[] }
  /** Another container holds the IDs, but the agent served it those IDs itself after this answer:
   * this pod ended and the kubelet gave its devices again. Nothing is left to check. */
  | { kind: "reissued"; holders: Holder[] };

/** Whether the agent served `holder` any of `ids` in a later Allocate answer than the one checked. */
export type ServedLater = (holder: Holder, ids: readonly string[]) => boolean;

/** The IDs of `wanted` that a listed container holds for `resource`. */
function heldOf(
  container: ListedPod["containers"][number],
  resource: string,
  wanted: ReadonlySet<string>,
): string[] {
  return container.devices
    .filter((d) => d.resource_name === resource)
    .flatMap((d) => d.device_ids)
    .filter((id) => wanted.has(id));
}

export function checkServed(
  served: ServedContainer,
  listing: readonly ListedPod[],
  servedLater: ServedLater = () => false,
): AllocationVerdict {
  const wanted = new Set(served.deviceIds);
  const found = new Set<string>();
  const others: Holder[] = [];
  const reissued: Holder[] = [];
  for (const pod of listing)
    for (const container of pod.containers) {
      const ids = heldOf(container, served.resource, wanted);
      // The kubelet lets app containers reuse the devices of their pod's init containers, so
      // another container of the same pod may list them too: the pod's own limits either way.
      const samePod = pod.namespace === served.namespace && pod.name === served.name;
      if (samePod && container.name === served.container) ids.forEach((id) => found.add(id));
      else if (!samePod && ids.length > 0) {
        const holder = { namespace: pod.namespace, name: pod.name, container: container.name };
        (servedLater(holder, ids) ? reissued : others).push(holder);
      }
    }
  return verdict(others, reissued, found.size === wanted.size);
}

function verdict(others: Holder[], reissued: Holder[], complete: boolean): AllocationVerdict {
  if (others.length > 0) return { kind: "mismatch", holders: others };
  if (reissued.length > 0) return { kind: "reissued", holders: reissued };
  return complete ? { kind: "match" } : { kind: "pending" };
}
