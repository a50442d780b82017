// The SIMULATED kubelet's PodResources API (v1 List and Get): which device IDs of which resource
// each container was given, recorded right after Allocate returns, as the real kubelet's device
// manager records them. Served on a unix socket, like the kubelet's pod-resources/kubelet.sock. Like
// the kubelet's (pkg/kubelet/apis/podresources/server_v1.go), plain init containers are left out,
// and Get of a pod it does not know fails.

import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Server, status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import {
  podResourcesService,
  bindUnix,
  type GetPodResourcesRequest,
  type ListPodResourcesResponse,
  type PodResources,
} from "../node/index.js";

interface Held {
  namespace: string;
  name: string;
  /** container -> resource -> device IDs */
  containers: Map<string, Map<string, string[]>>;
  /** Plain (non-restartable) init containers: held, not listed. */
  unlisted: Set<string>;
}

function listed(held: Held): PodResources {
  return {
    name: held.name,
    namespace: held.namespace,
    containers: [...held.containers]
      .filter(([name]) => !held.unlisted.has(name))
      .map(([name, resources]) => ({
        name,
        devices: [...resources].map(([resource_name, device_ids]) => ({
          resource_name,
          device_ids,
        })),
      })),
  };
}

export class SimulatedPodResources {
  readonly socket: string;
  private readonly pods = new Map<string, Held>();
  private server: Server | undefined;
  /** Calls served, per method. */
  readonly calls = { List: 0, Get: 0 };

  constructor(socket: string) {
    this.socket = socket;
  }

  record(
    pod: { uid: string; namespace: string; name: string },
    container: { name: string; listed: boolean },
    resource: string,
    ids: string[],
  ): void {
    const held: Held = this.pods.get(pod.uid) ?? {
      namespace: pod.namespace,
      name: pod.name,
      containers: new Map<string, Map<string, string[]>>(),
      unlisted: new Set<string>(),
    };
    if (!container.listed) held.unlisted.add(container.name);
    const resources = held.containers.get(container.name) ?? new Map<string, string[]>();
    resources.set(resource, ids);
    held.containers.set(container.name, resources);
    this.pods.set(pod.uid, held);
  }

  forget(uid: string): void {
    this.pods.delete(uid);
  }

  list(): ListPodResourcesResponse {
    return { pod_resources: [...this.pods.values()].map(listed) };
  }

  get(namespace: string, name: string): PodResources | undefined {
    const held = [...this.pods.values()].find((p) => p.namespace === namespace && p.name === name);
    return held === undefined ? undefined : listed(held);
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.socket), { recursive: true });
    const server = new Server();
    server.addService(podResourcesService(), {
      List: (_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
        this.calls.List++;
        done(null, this.list());
      },
      Get: (
        call: ServerUnaryCall<GetPodResourcesRequest, unknown>,
        done: sendUnaryData<unknown>,
      ) => {
        this.calls.Get++;
        const { pod_namespace: namespace, pod_name: name } = call.request;
        const pod = this.get(namespace, name);
        if (pod === undefined)
          done({
            code: status.UNKNOWN,
            details: `pod ${name} in namespace ${namespace} not found`,
          });
        else done(null, { pod_resources: pod });
      },
    });
    await bindUnix(server, this.socket);
    this.server = server;
  }

  async stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    await rm(this.socket, { force: true });
  }
}
