// The kubelet device plugin API (v1beta1) as typed promises over @grpc/grpc-js: both sides of it,
// the Registration service the kubelet serves and the DevicePlugin service a plugin serves. Only the
// wire (loading our .proto, unary and streaming calls, unix socket targets) lives here; what a plugin
// answers is decided elsewhere.

import { fileURLToPath } from "node:url";
import type { Server } from "@grpc/grpc-js";
import {
  Client,
  credentials,
  Metadata,
  ServerCredentials,
  type CallOptions,
  type ClientReadableStream,
  type MethodDefinition,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";

export const API_VERSION = "v1beta1";
export const KUBELET_SOCKET = "kubelet.sock";
export const HEALTHY = "Healthy";
export const UNHEALTHY = "Unhealthy";

// Field names are the proto's own (keepCase), so what a test reads is what travels on the wire.
export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: DevicePluginOptions | null;
}
export type Empty = Record<string, never>;
export interface Device {
  ID: string;
  health: string;
  topology?: { nodes: { ID: number }[] } | null;
}
export interface ListAndWatchResponse {
  devices: Device[];
}
export interface ContainerPreferredAllocationRequest {
  available_deviceIDs: string[];
  must_include_deviceIDs: string[];
  allocation_size: number;
}
export interface PreferredAllocationRequest {
  container_requests: ContainerPreferredAllocationRequest[];
}
export interface PreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}
export interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}
export interface Mount {
  container_path: string;
  host_path: string;
  read_only: boolean;
}
export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdi_devices: { name: string }[];
}
export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}
export interface PreStartContainerRequest {
  devices_ids: string[];
}

export interface DevicePluginApi {
  registration: ServiceDefinition;
  devicePlugin: ServiceDefinition;
}

let loaded: DevicePluginApi | undefined;

/** One of our .proto files (next to this module), with the proto's own field names. */
export function loadProto(file: string): PackageDefinition {
  return loadSync(fileURLToPath(new URL(`./${file}`, import.meta.url)), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
  });
}

/** Serves `server` on a unix socket at an absolute path. */
export function bindUnix(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(unixTarget(socketPath), ServerCredentials.createInsecure(), (error) => {
      if (error === null) resolve();
      else reject(error);
    });
  });
}

/** The two services of our .proto, loaded once per process. */
export function devicePluginApi(): DevicePluginApi {
  if (loaded !== undefined) return loaded;
  const definition = loadProto("deviceplugin-v1beta1.proto");
  loaded = {
    registration: definition["v1beta1.Registration"] as ServiceDefinition,
    devicePlugin: definition["v1beta1.DevicePlugin"] as ServiceDefinition,
  };
  return loaded;
}

/** gRPC target for a unix socket at an absolute path. */
export function unixTarget(socketPath: string): string {
  return `unix://${socketPath}`;
}

type Method = MethodDefinition<unknown, unknown>;

function method(service: ServiceDefinition, name: string): Method {
  const found = service[name];
  if (found === undefined) throw new Error(`device plugin API has no method ${name}`);
  return found as Method;
}

export function unary<Res>(
  client: Client,
  def: Method,
  request: unknown,
  timeoutMs: number,
): Promise<Res> {
  const options: CallOptions = { deadline: Date.now() + timeoutMs };
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      new Metadata(),
      options,
      (error, response) => {
        if (error !== null) reject(error);
        else resolve(response as Res);
      },
    );
  });
}

export interface RegistrationClient {
  register(request: RegisterRequest): Promise<void>;
  close(): void;
}

export interface DevicePluginClient {
  options(): Promise<DevicePluginOptions>;
  listAndWatch(): ClientReadableStream<ListAndWatchResponse>;
  preferredAllocation(request: PreferredAllocationRequest): Promise<PreferredAllocationResponse>;
  allocate(request: AllocateRequest): Promise<AllocateResponse>;
  preStartContainer(request: PreStartContainerRequest): Promise<void>;
  close(): void;
}

const CALL_TIMEOUT_MS = 10_000;

export function registrationClient(kubeletSocket: string): RegistrationClient {
  const { registration } = devicePluginApi();
  const client = new Client(unixTarget(kubeletSocket), credentials.createInsecure());
  return {
    register: async (request) => {
      await unary(client, method(registration, "Register"), request, CALL_TIMEOUT_MS);
    },
    close: () => {
      client.close();
    },
  };
}

export function devicePluginClient(pluginSocket: string): DevicePluginClient {
  const { devicePlugin } = devicePluginApi();
  const client = new Client(unixTarget(pluginSocket), credentials.createInsecure());
  const call = <Res>(name: string, request: unknown): Promise<Res> =>
    unary<Res>(client, method(devicePlugin, name), request, CALL_TIMEOUT_MS);
  return {
    options: () => call("GetDevicePluginOptions", {}),
    listAndWatch: () => {
      const def = method(devicePlugin, "ListAndWatch");
      return client.makeServerStreamRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        {},
      ) as ClientReadableStream<ListAndWatchResponse>;
    },
    preferredAllocation: (request) => call("GetPreferredAllocation", request),
    allocate: (request) => call("Allocate", request),
    preStartContainer: async (request) => {
      await call("PreStartContainer", request);
    },
    close: () => {
      client.close();
    },
  };
}
