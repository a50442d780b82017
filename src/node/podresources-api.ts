// The kubelet PodResources API (v1, List): which devices of which resource the kubelet gave to
// which pod's container. The agent reads it after Allocate to check that the pod it served is the
// pod the kubelet gave the devices to; the simulated kubelet serves it.

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

let service: ServiceDefinition | undefined;

export function podResourcesService(): ServiceDefinition {
  if (service !== undefined) return service;
  service = loadProto("podresources-v1.proto")["v1.PodResourcesLister"] as ServiceDefinition;
  return service;
}

export interface PodResourcesClient {
  list(): Promise<ListPodResourcesResponse>;
  close(): void;
}

export function podResourcesClient(socketPath: string, timeoutMs = 5_000): PodResourcesClient {
  const lister = podResourcesService();
  const client = new Client(unixTarget(socketPath), credentials.createInsecure());
  const list = lister.List;
  if (list === undefined) throw new Error("PodResources API has no List");
  return {
    list: () => unary<ListPodResourcesResponse>(client, list as never, {}, timeoutMs),
    close: () => {
      client.close();
    },
  };
}
