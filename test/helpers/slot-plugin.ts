// A bare device plugin for tests of the REAL kubelet's device manager itself: `count` devices of
// one resource (SLOT-0, SLOT-1, ...), no GPUs behind them, an Allocate a test can hold open (to act
// while the kubelet waits on it), and a preferred allocation of the lowest IDs the kubelet offers,
// so which device the kubelet picks is known (without one it picks in Go map order).

import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Client,
  credentials,
  Server,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import {
  API_VERSION,
  bindUnix,
  devicePluginApi,
  HEALTHY,
  KUBELET_SOCKET,
  POD_RESOURCES_SOCKET,
  podResourcesClient,
  podResourcesService,
  registrationClient,
  unary,
  unixTarget,
  type AllocateRequest,
  type ListPodResourcesResponse,
  type PodResources,
  type PreferredAllocationRequest,
} from "../../src/node/index.js";

export interface SlotPlugin {
  /** Allocate calls that arrived so far. */
  readonly calls: AllocateRequest[];
  /** Makes the next Allocate calls wait until the returned function is called. */
  hold(): () => void;
  stop(): Promise<void>;
}

const SOCKET = "hami-test-slots.sock";

export async function startSlotPlugin(
  pluginDir: string,
  resourceName: string,
  count: number,
): Promise<SlotPlugin> {
  const calls: AllocateRequest[] = [];
  let gate: Promise<void> = Promise.resolve();
  const devices = Array.from({ length: count }, (_, i) => ({ ID: `SLOT-${i}`, health: HEALTHY }));
  const streams = new Set<ServerWritableStream<unknown, unknown>>();
  const server = new Server();
  const options = { pre_start_required: false, get_preferred_allocation_available: true };
  const byNumber = (a: string, b: string) => Number(a.slice(5)) - Number(b.slice(5));
  server.addService(devicePluginApi().devicePlugin, {
    GetDevicePluginOptions: (_call: unknown, done: sendUnaryData<unknown>) => {
      done(null, options);
    },
    ListAndWatch: (call: ServerWritableStream<unknown, unknown>) => {
      streams.add(call);
      call.write({ devices });
    },
    GetPreferredAllocation: (
      call: ServerUnaryCall<PreferredAllocationRequest, unknown>,
      done: sendUnaryData<unknown>,
    ) => {
      done(null, {
        container_responses: call.request.container_requests.map((r) => ({
          deviceIDs: [...r.available_deviceIDs].sort(byNumber).slice(0, r.allocation_size),
        })),
      });
    },
    Allocate: (call: ServerUnaryCall<AllocateRequest, unknown>, done: sendUnaryData<unknown>) => {
      calls.push(call.request);
      const empty = { envs: {}, mounts: [], devices: [], annotations: {}, cdi_devices: [] };
      void gate.then(() => {
        done(null, { container_responses: call.request.container_requests.map(() => empty) });
      });
    },
    PreStartContainer: (_call: unknown, done: sendUnaryData<unknown>) => {
      done(null, {});
    },
  });
  await bindUnix(server, join(pluginDir, SOCKET));
  const kubelet = registrationClient(join(pluginDir, KUBELET_SOCKET));
  try {
    await kubelet.register({
      version: API_VERSION,
      endpoint: SOCKET,
      resource_name: resourceName,
      options,
    });
  } finally {
    kubelet.close();
  }
  return {
    calls,
    hold: () => {
      let release = (): void => undefined;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = Promise.resolve();
        release();
      };
    },
    stop: async () => {
      for (const stream of streams) stream.end();
      server.forceShutdown();
      await rm(join(pluginDir, SOCKET), { force: true });
    },
  };
}

/** The kubelet's PodResources API under its root dir: Get through the agent's own client, and
 * List, which the agent never calls (it frees devices of an Allocate in flight), for the test. */
export function podResourcesOf(kubeletRoot: string): {
  list(): Promise<ListPodResourcesResponse>;
  get(namespace: string, name: string): Promise<PodResources>;
  close(): void;
} {
  const socket = join(kubeletRoot, POD_RESOURCES_SOCKET);
  const agent = podResourcesClient(socket);
  const client = new Client(unixTarget(socket), credentials.createInsecure());
  const list = podResourcesService().List;
  return {
    list: () => unary<ListPodResourcesResponse>(client, list as never, {}, 5_000),
    get: (namespace, name) => agent.get(namespace, name),
    close: () => {
      agent.close();
      client.close();
    },
  };
}
