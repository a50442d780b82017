// What the parts of the scheduler benchmark share: the extender's dependencies over a view, the
// extender served and called over loopback HTTP keep-alive, as kube-scheduler calls it, and a test
// control plane for the parts that need the real kube-apiserver.

import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { defaultConfig, mutatePolicy, placementPolicy } from "../../src/config/index.js";
import { MemoryBus } from "../../src/events/index.js";
import { KeepAliveKubeConfig, type PodApi } from "../../src/k8s/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../../test/helpers/control-plane.js";
import {
  deviceStats,
  type ClusterView,
  type createSchedulerApp,
} from "../../src/scheduler/index.js";
import { createLogger, createRegistry, schedulerMetrics } from "../../src/telemetry/index.js";

const config = defaultConfig();
export const log = createLogger({ level: "silent" });

export function benchDeps(view: ClusterView, api: PodApi) {
  const registry = createRegistry(false);
  return {
    view,
    policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
    log,
    metrics: schedulerMetrics(registry, () => deviceStats(view)),
    api,
    bus: new MemoryBus(),
    clock: () => new Date(),
    registry,
    ready: () => true,
  };
}

export const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          if (res.statusCode === 200) resolve(text);
          else reject(new Error(`${path}: ${res.statusCode} ${text}`));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export async function serve(
  app: ReturnType<typeof createSchedulerApp>,
): Promise<{ port: number; close: () => void }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** Runs `part` against a fresh test control plane with a keep-alive client, stopped afterwards;
 * a note saying why when the control plane is not built. */
export async function onControlPlane(
  part: (kc: KeepAliveKubeConfig, plane: ControlPlane) => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const missing = controlPlaneMissing();
  if (missing !== undefined) return { skipped: missing };
  const plane = await startControlPlane();
  try {
    const kc = new KeepAliveKubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    return await part(kc, plane);
  } finally {
    await plane.stop();
  }
}
