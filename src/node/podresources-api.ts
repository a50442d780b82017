// The kubelet PodResources API (v1): which devices of which resource the kubelet gave to which
// pod's container. The agent reads one pod (Get) after Allocate to check that the container it
// served got the devices it answered for; the simulated kubelet serves Get and List.

import { Client, credentials, type ServiceDefinition } from "@grpc/grpc-js";
import { loadProto, unary, unixTarget } from "./device-plugin-api.js";

/** Where the kubelet serves it, under its root directory. */
export const POD_RESOURCES_SOCKET = "pod-resources/kubelet.sock";

export interface ContainerDevices {
  resource_name: string;
  device_ids: string[];
}
export interface PodResources {
  name: string;
  namespace: string;
  containers: { name: string; devices: ContainerDevices[] }[];
}
export interface ListPodResourcesResponse {
  pod_resources: PodResources[];
}
export interface GetPodResourcesRequest {
  pod_name: string;
  pod_namespace: string;
}
export interface GetPodResourcesResponse {
  pod_resources: PodResources;
}

let service: ServiceDefinition | undefined;

export function podResourcesService(): ServiceDefinition {
  if (service !== undefined) return service;
  service = loadProto("podresources-v1.proto")["v1.PodResourcesLister"] as ServiceDefinition;
  return service;
}

export interface PodResourcesClient {
  get(namespace: string, name: string): Promise<PodResources>;
  close(): void;
}

export function podResourcesClient(socketPath: string, timeoutMs = 5_000): PodResourcesClient {
  const lister = podResourcesService();
  const client = new Client(unixTarget(socketPath), credentials.createInsecure());
  const get = lister.Get;
  if (get === undefined) throw new Error("PodResources API has no Get");
  return {
    get: async (namespace, name) => {
      const request: GetPodResourcesRequest = { pod_name: name, pod_namespace: namespace };
      const reply = await unary<GetPodResourcesResponse>(client, get as never, request, timeoutMs);
      return reply.pod_resources;
    },
    close: () => {
      client.close();
    },
  };
}
