// The device-manager half of the SIMULATED kubelet (no real kubelet runs in these tests): it serves
// the v1beta1 Registration service on kubelet.sock in a temp device-plugins dir, connects back to
// each registered plugin, follows ListAndWatch, and allocates device IDs to containers the way the
// kubelet's device manager does (GetPreferredAllocation when the plugin offers it, Allocate,
// PreStartContainer when required). Only the device bookkeeping lives here; pods and the Node
// object are simulated-kubelet.ts.

import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Server,
  status,
  type ClientReadableStream,
  type sendUnaryData,
  type ServerUnaryCall,
} from "@grpc/grpc-js";
import {
  API_VERSION,
  devicePluginApi,
  devicePluginClient,
  HEALTHY,
  KUBELET_SOCKET,
  bindUnix,
  type ContainerAllocateResponse,
  type Device,
  type DevicePluginClient,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type RegisterRequest,
} from "../node/index.js";

interface Endpoint {
  resource: string;
  socket: string;
  client: DevicePluginClient;
  options: DevicePluginOptions;
  stream: ClientReadableStream<ListAndWatchResponse>;
  devices: Device[];
  connected: boolean;
}

export interface ResourceCounts {
  capacity: number;
  allocatable: number;
}

export class SimulatedDeviceManager {
  /** Every Register call accepted, in order (tests count re-registrations). */
  readonly registrations: RegisterRequest[] = [];
  private server: Server | undefined;
  private readonly endpoints = new Map<string, Endpoint>();
  /** resource -> device ID -> pod UID holding it. */
  private readonly used = new Map<string, Map<string, string>>();

  readonly dir: string;
  private readonly onChange: (resource: string, counts: ResourceCounts) => void;

  constructor(dir: string, onChange: (resource: string, counts: ResourceCounts) => void) {
    this.dir = dir;
    this.onChange = onChange;
  }

  get socket(): string {
    return join(this.dir, KUBELET_SOCKET);
  }

  async start(): Promise<void> {
    const server = new Server();
    server.addService(devicePluginApi().registration, {
      Register: (call: ServerUnaryCall<RegisterRequest, unknown>, done: sendUnaryData<unknown>) => {
        this.register(call.request, done);
      },
    });
    await bindUnix(server, this.socket);
    this.server = server;
  }

  /** Like a kubelet restart: drops every plugin connection and, as the kubelet does on start,
   * deletes every socket in the device-plugins dir before serving kubelet.sock again. Device
   * assignments survive, as the kubelet's checkpoint keeps them. */
  async restart(): Promise<void> {
    await this.stop();
    for (const name of await readdir(this.dir))
      if (name.endsWith(".sock")) await rm(join(this.dir, name), { force: true });
    await this.start();
  }

  async stop(): Promise<void> {
    for (const endpoint of this.endpoints.values()) this.disconnect(endpoint);
    this.endpoints.clear();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) server.forceShutdown();
    await rm(this.socket, { force: true });
  }

  devices(resource: string): Device[] {
    return this.endpoints.get(resource)?.devices ?? [];
  }

  /** Device IDs given to a container: chosen among the healthy free ones (plus `reusable`, the
   * IDs the pod's init containers held), then handed to the plugin's Allocate. */
  async allocate(
    podUID: string,
    resource: string,
    count: number,
    reusable: string[],
  ): Promise<{ ids: string[]; response: ContainerAllocateResponse }> {
    const endpoint = this.endpoints.get(resource);
    if (endpoint === undefined || !endpoint.connected)
      throw new Error(`no device plugin serves ${resource}`);
    const held = this.used.get(resource) ?? new Map<string, string>();
    const available = endpoint.devices
      .filter((d) => d.health === HEALTHY && (!held.has(d.ID) || reusable.includes(d.ID)))
      .map((d) => d.ID);
    if (available.length < count)
      throw new Error(
        `requested number of devices unavailable for ${resource}. Requested: ${count}, Available: ${available.length}`,
      );
    const ids = await this.choose(endpoint, available, count);
    const reply = await endpoint.client.allocate({ container_requests: [{ devices_ids: ids }] });
    const response = reply.container_responses[0];
    if (response === undefined)
      throw new Error(`${resource} plugin answered no container response`);
    if (endpoint.options.pre_start_required)
      await endpoint.client.preStartContainer({ devices_ids: ids });
    for (const id of ids) held.set(id, podUID);
    this.used.set(resource, held);
    return { ids, response };
  }

  /** Frees every device a pod holds. */
  free(podUID: string): void {
    for (const held of this.used.values())
      for (const [id, owner] of held) if (owner === podUID) held.delete(id);
  }

  private async choose(endpoint: Endpoint, available: string[], count: number): Promise<string[]> {
    if (!endpoint.options.get_preferred_allocation_available) return available.slice(0, count);
    const reply = await endpoint.client.preferredAllocation({
      container_requests: [
        { available_deviceIDs: available, must_include_deviceIDs: [], allocation_size: count },
      ],
    });
    const preferred = reply.container_responses[0]?.deviceIDs ?? [];
    const valid = preferred.length === count && preferred.every((id) => available.includes(id));
    return valid ? preferred : available.slice(0, count);
  }

  private register(request: RegisterRequest, done: sendUnaryData<unknown>): void {
    if (request.version !== API_VERSION) {
      done({
        code: status.INVALID_ARGUMENT,
        details: `unsupported API version ${request.version}`,
      });
      return;
    }
    if (request.endpoint.includes("/") || request.resource_name === "") {
      done({
        code: status.INVALID_ARGUMENT,
        details: `invalid registration ${JSON.stringify(request)}`,
      });
      return;
    }
    this.registrations.push(request);
    done(null, {});
    this.connect(request);
  }

  private connect(request: RegisterRequest): void {
    const previous = this.endpoints.get(request.resource_name);
    if (previous !== undefined) this.disconnect(previous);
    const socket = join(this.dir, request.endpoint);
    const client = devicePluginClient(socket);
    const endpoint: Endpoint = {
      resource: request.resource_name,
      socket,
      client,
      options: request.options ?? {
        pre_start_required: false,
        get_preferred_allocation_available: false,
      },
      stream: client.listAndWatch(),
      devices: [],
      connected: true,
    };
    this.endpoints.set(endpoint.resource, endpoint);
    endpoint.stream.on("data", (update: ListAndWatchResponse) => {
      endpoint.devices = update.devices;
      this.report(endpoint);
    });
    const lost = (): void => {
      if (!endpoint.connected) return;
      endpoint.connected = false;
      this.report(endpoint);
    };
    endpoint.stream.on("error", lost);
    endpoint.stream.on("end", lost);
  }

  private disconnect(endpoint: Endpoint): void {
    endpoint.connected = false;
    endpoint.stream.cancel();
    endpoint.client.close();
  }

  private report(endpoint: Endpoint): void {
    if (this.endpoints.get(endpoint.resource) !== endpoint) return;
    const healthy = endpoint.devices.filter((d) => d.health === HEALTHY).length;
    this.onChange(endpoint.resource, {
      capacity: endpoint.devices.length,
      allocatable: endpoint.connected ? healthy : 0,
    });
  }
}
