// The device plugin side of the kubelet API: serves v1beta1.DevicePlugin on our socket in the
// device-plugins dir, registers with the kubelet, streams splitCount virtual devices per GPU
// (`<uuid>-<n>`), and hands Allocate to the allocator. When the kubelet restarts it deletes our
// socket: we notice, serve again and re-register; allocation state lives elsewhere and is kept.

import { existsSync, watch, type FSWatcher } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Server,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import type { Device } from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import {
  API_VERSION,
  devicePluginApi,
  HEALTHY,
  KUBELET_SOCKET,
  registrationClient,
  UNHEALTHY,
  bindUnix,
  type AllocateRequest,
  type AllocateResponse,
  type Device as PluginDevice,
} from "./device-plugin-api.js";

/** An Allocate refusal: the gRPC status code and a message saying what was expected and found. */
export class AllocateError extends Error {
  override readonly name = "AllocateError";
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}

export interface PluginOptions {
  dir: string;
  socketName: string;
  resourceName: string;
  log: Logger;
  allocate: (request: AllocateRequest) => Promise<AllocateResponse>;
  /** How often to check that our socket still exists (default 1 s). */
  checkMs?: number;
}

/** The virtual device IDs of a node's GPUs; an unhealthy GPU's are all Unhealthy. */
export function virtualDevices(devices: readonly Device[]): PluginDevice[] {
  return devices.flatMap((d) =>
    Array.from({ length: d.splitCount }, (_, n) => ({
      ID: `${d.uuid}-${n}`,
      health: d.healthy ? HEALTHY : UNHEALTHY,
      topology: { nodes: [{ ID: d.numa }] },
    })),
  );
}

/** A promise and its resolve (Node 20 has no Promise.withResolvers). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

export class DevicePluginServer {
  private readonly options: PluginOptions;
  private server: Server | undefined;
  private devices: PluginDevice[] = [];
  private readonly watchers = new Set<ServerWritableStream<unknown, unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private dirWatch: FSWatcher | undefined;
  private restarting: Promise<void> | undefined;
  private stopped = false;
  /** Successful registrations with the kubelet (the first and every re-registration). */
  registrations = 0;
  /** Resolves when the kubelet opens ListAndWatch after the latest registration: only then does
   * it know our devices (Register returns before; a pod admitted meanwhile fails). */
  private listed = deferred();

  constructor(options: PluginOptions) {
    this.options = options;
  }

  get socket(): string {
    return join(this.options.dir, this.options.socketName);
  }

  /** Serves, registers, and keeps doing both whenever the kubelet restarts. */
  async start(): Promise<void> {
    await this.serveAndRegister();
    const check = (): void => {
      if (!this.stopped && !existsSync(this.socket) && this.restarting === undefined)
        this.restarting = this.recover().finally(() => (this.restarting = undefined));
    };
    this.timer = setInterval(check, this.options.checkMs ?? 1_000);
    this.timer.unref();
    try {
      this.dirWatch = watch(this.options.dir, check);
    } catch (error) {
      this.options.log.warn({ err: error }, "cannot watch the device-plugins dir; polling only");
    }
  }

  /** Whether the kubelet has asked for our devices since the latest registration, waiting at
   * most `ms` for it. */
  async listedByKubelet(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    try {
      return await Promise.race([this.listed.promise.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What ListAndWatch streams; sent again to every open stream when it changes. */
  setDevices(devices: readonly Device[]): void {
    const next = virtualDevices(devices);
    if (JSON.stringify(next) === JSON.stringify(this.devices)) return;
    this.devices = next;
    for (const watcher of this.watchers) watcher.write({ devices: next });
  }

  /** Known, healthy virtual device IDs. */
  isHealthy(id: string): boolean {
    return this.devices.some((d) => d.ID === id && d.health === HEALTHY);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.dirWatch?.close();
    await this.restarting;
    this.closeServer();
    await rm(this.socket, { force: true });
  }

  private async recover(): Promise<void> {
    this.options.log.warn(
      { socket: this.socket },
      "plugin socket gone (kubelet restarted?): serving again",
    );
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.serveAndRegister();
        return;
      } catch (error) {
        this.options.log.warn({ err: error, attempt }, "re-registration failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * attempt)));
      }
    }
  }

  private closeServer(): void {
    for (const watcher of this.watchers) watcher.end();
    this.watchers.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private async serveAndRegister(): Promise<void> {
    this.closeServer();
    await rm(this.socket, { force: true });
    const server = new Server();
    server.addService(devicePluginApi().devicePlugin, this.handlers());
    await bindUnix(server, this.socket);
    this.server = server;
    const kubelet = registrationClient(join(this.options.dir, KUBELET_SOCKET));
    this.listed = deferred();
    try {
      await kubelet.register({
        version: API_VERSION,
        endpoint: this.options.socketName,
        resource_name: this.options.resourceName,
        options: { pre_start_required: false, get_preferred_allocation_available: false },
      });
    } finally {
      kubelet.close();
    }
    this.registrations++;
    this.options.log.info(
      { socket: this.socket, resource: this.options.resourceName, devices: this.devices.length },
      "registered with the kubelet",
    );
  }

  private handlers() {
    return {
      GetDevicePluginOptions: (_call: unknown, done: sendUnaryData<unknown>) => {
        done(null, { pre_start_required: false, get_preferred_allocation_available: false });
      },
      ListAndWatch: (call: ServerWritableStream<unknown, unknown>) => {
        this.watchers.add(call);
        call.on("cancelled", () => this.watchers.delete(call));
        call.write({ devices: this.devices });
        this.listed.resolve();
      },
      GetPreferredAllocation: (_call: unknown, done: sendUnaryData<unknown>) => {
        done({
          code: status.UNIMPLEMENTED,
          details: "no preferred allocation: the scheduler already chose the GPUs",
        });
      },
      Allocate: (call: ServerUnaryCall<AllocateRequest, unknown>, done: sendUnaryData<unknown>) => {
        this.options.allocate(call.request).then(
          (response) => {
            done(null, response);
          },
          (error: unknown) => {
            const code = error instanceof AllocateError ? error.code : status.INTERNAL;
            done({ code, details: error instanceof Error ? error.message : String(error) });
          },
        );
      },
      PreStartContainer: (_call: unknown, done: sendUnaryData<unknown>) => {
        done(null, {});
      },
    };
  }
}
