// After Allocate: did the container the agent served get the devices it answered for? Allocate
// carries device IDs only, so the agent names the container by its own reasoning; the kubelet's
// PodResources Get for that pod says which IDs the kubelet gave that container. Pure: the kubelet's
// answer comes in as data.
//
// Only the served pod is read, never the whole node (List): the kubelet's List frees the devices of
// an Allocate still in flight (see verify.ts), and another pod listing the same IDs proves nothing
// (a finished pod's IDs are given again; the kubelet itself can give one ID twice).

export interface ServedContainer {
  namespace: string;
  name: string;
  container: string;
  resource: string;
  deviceIds: readonly string[];
}

/** One pod's devices as the kubelet's PodResources API reports them. */
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
  /** The kubelet lists no device of this resource for the container yet: ask again shortly. */
  | { kind: "pending" }
  /** The kubelet gave the container other IDs: it runs with the answer given for those. */
  | { kind: "mismatch"; held: string[] };

export function checkServed(served: ServedContainer, pod: ListedPod): AllocationVerdict {
  const held = (pod.containers.find((c) => c.name === served.container)?.devices ?? [])
    .filter((d) => d.resource_name === served.resource)
    .flatMap((d) => d.device_ids);
  if (held.length === 0) return { kind: "pending" };
  // The kubelet calls Allocate once per container and resource with all its IDs (those reused
  // from init containers included) and records exactly those: anything else is another answer.
  const given = new Set(held);
  const same =
    given.size === served.deviceIds.length && served.deviceIds.every((id) => given.has(id));
  return same ? { kind: "match" } : { kind: "mismatch", held };
}
