// The SIMULATED kubelet of the test harness against the real kube-apiserver, over real gRPC on unix
// sockets. The device plugin here is a test double (four devices, prefers the last available IDs,
// echoes the IDs it was given); hami-ts's own plugin is tested against this same kubelet.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  type V1Pod,
} from "@kubernetes/client-node";
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";
import {
  API_VERSION,
  devicePluginApi,
  HEALTHY,
  registrationClient,
  unixTarget,
  UNHEALTHY,
  type AllocateRequest,
  type Device,
  type PreferredAllocationRequest,
} from "../../src/node/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { ALLOCATE_ANNOTATION_PREFIX, SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const missing = controlPlaneMissing();
const RESOURCE = "example.com/dev";
const NODE = "sim-kubelet-node";
const SOCKET = "test-plugin.sock";

/** Test double of a device plugin. */
class FakePlugin {
  devices: Device[] = [0, 1, 2, 3].map((i) => ({ ID: `dev-${i}`, health: HEALTHY }));
  readonly allocated: string[][] = [];
  private readonly watchers = new Set<ServerWritableStream<unknown, unknown>>();
  private server: Server | undefined;

  async serve(dir: string): Promise<void> {
    const server = new Server();
    server.addService(devicePluginApi().devicePlugin, {
      GetDevicePluginOptions: (_call: unknown, done: sendUnaryData<unknown>) => {
        done(null, { pre_start_required: false, get_preferred_allocation_available: true });
      },
      ListAndWatch: (call: ServerWritableStream<unknown, unknown>) => {
        this.watchers.add(call);
        call.on("cancelled", () => this.watchers.delete(call));
        call.write({ devices: this.devices });
      },
      GetPreferredAllocation: (
        call: ServerUnaryCall<PreferredAllocationRequest, unknown>,
        done: sendUnaryData<unknown>,
      ) => {
        done(null, {
          container_responses: call.request.container_requests.map((r) => ({
            deviceIDs: r.available_deviceIDs.slice(-r.allocation_size),
          })),
        });
      },
      Allocate: (call: ServerUnaryCall<AllocateRequest, unknown>, done: sendUnaryData<unknown>) => {
        const ids = call.request.container_requests.map((r) => r.devices_ids);
        if (ids.flat().includes("dev-refused")) {
          done({ code: status.FAILED_PRECONDITION, details: "refused by the test plugin" });
          return;
        }
        this.allocated.push(...ids);
        done(null, {
          container_responses: ids.map((list) => ({ envs: { TEST_DEVICES: list.join(",") } })),
        });
      },
      PreStartContainer: (_call: unknown, done: sendUnaryData<unknown>) => {
        done(null, {});
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(unixTarget(join(dir, SOCKET)), ServerCredentials.createInsecure(), (e) => {
        if (e === null) resolve();
        else reject(e);
      });
    });
    this.server = server;
    const kubelet = registrationClient(join(dir, "kubelet.sock"));
    await kubelet.register({
      version: API_VERSION,
      endpoint: SOCKET,
      resource_name: RESOURCE,
      options: { pre_start_required: false, get_preferred_allocation_available: true },
    });
    kubelet.close();
  }

  update(devices: Device[]): void {
    this.devices = devices;
    for (const watcher of this.watchers) watcher.write({ devices });
  }

  stop(): void {
    this.server?.forceShutdown();
    this.watchers.clear();
  }
}

describe(
  "simulated kubelet (no real kubelet, no GPUs) with a test-double device plugin",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let kubelet: SimulatedKubelet;
    let core: CoreV1Api;
    let leases: CoordinationV1Api;
    const plugin = new FakePlugin();

    const node = () => core.readNode({ name: NODE });
    const readPod = (name: string) => core.readNamespacedPod({ namespace: "default", name });
    const phase = async (name: string) => (await readPod(name)).status?.phase;

    function devicePod(
      name: string,
      containers: Partial<V1Container>[],
      init: Partial<V1Container>[] = [],
    ): V1Pod {
      const container = (c: Partial<V1Container>, i: number): V1Container => ({
        name: `c${i}`,
        image: "busybox",
        ...c,
      });
      return {
        metadata: { name },
        spec: {
          nodeName: NODE,
          containers: containers.map(container),
          initContainers: init.map((c, i) => container({ name: `init${i}`, ...c }, i)),
        },
      };
    }
    const asks = (count: number): Partial<V1Container> => ({
      resources: { limits: { [RESOURCE]: String(count) } },
    });
    const served = (name: string, container = "c0"): string | undefined => {
      const response = kubelet.allocations.get(`default/${name}/${container}`);
      return response?.envs.TEST_DEVICES;
    };

    before(async () => {
      plane = await startControlPlane();
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      leases = kc.makeApiClient(CoordinationV1Api);
      kubelet = await SimulatedKubelet.start({
        kubeconfig: plane.kubeconfig,
        nodeName: NODE,
        labels: { gpu: "on" },
        heartbeatMs: 500,
      });
      await plugin.serve(kubelet.pluginDir);
    });

    after(async () => {
      plugin.stop();
      await kubelet?.stop();
      await plane?.stop();
    });

    it("creates a Ready node and keeps its Lease renewed", async () => {
      const ready = (await node()).status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True");
      assert.equal((await node()).metadata?.labels?.gpu, "on");
      // client-node hands MicroTime back as the wire string, not a Date.
      const renewed = async () => {
        const lease = await leases.readNamespacedLease({
          namespace: "kube-node-lease",
          name: NODE,
        });
        return Date.parse(String(lease.spec?.renewTime));
      };
      const first = await renewed();
      assert.ok(first > 0);
      await waitFor("lease renewed", async () => (await renewed()) > first, 5_000);
    });

    it("publishes the plugin's devices as capacity and healthy ones as allocatable", async () => {
      const counts = async () => {
        const s = (await node()).status;
        return `${s?.capacity?.[RESOURCE] ?? "-"}/${s?.allocatable?.[RESOURCE] ?? "-"}`;
      };
      await waitFor("4/4", async () => (await counts()) === "4/4", 10_000);
      plugin.update(
        plugin.devices.map((d) => (d.ID === "dev-0" ? { ...d, health: UNHEALTHY } : d)),
      );
      await waitFor(
        "4/3 after dev-0 turned unhealthy",
        async () => (await counts()) === "4/3",
        10_000,
      );
      plugin.update(plugin.devices.map((d) => ({ ...d, health: HEALTHY })));
      await waitFor("4/4 again", async () => (await counts()) === "4/4", 10_000);
    });

    it("admits bound pods in creation order, asks the plugin's preference, calls Allocate, marks Running", async () => {
      await core.createNamespacedPod({ namespace: "default", body: devicePod("pod-a", [asks(2)]) });
      await core.createNamespacedPod({
        namespace: "default",
        body: devicePod("pod-b", [asks(1), {}]),
      });
      for (const name of ["pod-a", "pod-b"])
        await waitFor(`${name} Running`, async () => (await phase(name)) === "Running", 15_000);
      assert.equal(served("pod-a"), "dev-2,dev-3", "the preferred (last) IDs were used");
      assert.equal(served("pod-b"), "dev-1");
      assert.equal(
        served("pod-b", "c1"),
        undefined,
        "a container without devices is not allocated",
      );
      assert.deepEqual(plugin.allocated, [["dev-2", "dev-3"], ["dev-1"]]);
      const annotation = (await readPod("pod-a")).metadata?.annotations?.[
        `${ALLOCATE_ANNOTATION_PREFIX}c0`
      ];
      assert.deepEqual(JSON.parse(annotation ?? "{}").envs, { TEST_DEVICES: "dev-2,dev-3" });
    });

    it("same-second pods go in arrival order; after a relist, in the list's order (by name)", async () => {
      const admitted: string[][] = [];
      kubelet.order = (waiting) => {
        if (waiting.length > 0) admitted.push(waiting.map((p) => p.metadata?.name ?? ""));
        return waiting;
      };
      async function sameSecond(names: string[]): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() % 1_000)));
        const created = [];
        for (const name of names)
          created.push(
            await core.createNamespacedPod({ namespace: "default", body: devicePod(name, [{}]) }),
          );
        const seconds = new Set(created.map((p) => String(p.metadata?.creationTimestamp)));
        assert.equal(seconds.size, 1, "created within one second");
        await waitFor("all arrived", () =>
          names.every((n) => kubelet.arrivedPods().includes(n)) ? true : undefined,
        );
      }
      try {
        kubelet.holdAdmission();
        await sameSecond(["order-b", "order-c", "order-a"]);
        kubelet.resumeAdmission();
        await waitFor("admitted", () => (admitted.length > 0 ? true : undefined));
        assert.deepEqual(admitted.at(-1), ["order-b", "order-c", "order-a"]);
        kubelet.holdAdmission();
        await sameSecond(["relist-b", "relist-c", "relist-a"]);
        await kubelet.relist();
        await waitFor("listed again", () =>
          kubelet.arrivedPods().includes("relist-a") ? true : undefined,
        );
        kubelet.resumeAdmission();
        await waitFor("admitted after the relist", () =>
          admitted.at(-1)?.includes("relist-a") === true ? true : undefined,
        );
        assert.deepEqual(admitted.at(-1), ["relist-a", "relist-b", "relist-c"]);
      } finally {
        kubelet.order = undefined;
        kubelet.resumeAdmission();
      }
    });

    it("refuses a pod that asks more devices than are free, as the kubelet does", async () => {
      await core.createNamespacedPod({
        namespace: "default",
        body: devicePod("too-many", [asks(2)]),
      });
      await waitFor("too-many Failed", async () => (await phase("too-many")) === "Failed", 15_000);
      const pod = await readPod("too-many");
      assert.equal(pod.status?.reason, "UnexpectedAdmissionError");
      assert.match(pod.status?.message ?? "", /Requested: 2, Available: 1/);
    });

    it("frees a deleted pod's devices for the next pod; init container devices are reused", async () => {
      await core.deleteNamespacedPod({
        namespace: "default",
        name: "pod-a",
        gracePeriodSeconds: 0,
      });
      await core.createNamespacedPod({
        namespace: "default",
        body: devicePod("with-init", [asks(3)], [asks(3)]),
      });
      await waitFor(
        "with-init Running",
        async () => (await phase("with-init")) === "Running",
        15_000,
      );
      assert.equal(served("with-init", "init0"), "dev-0,dev-2,dev-3");
      assert.equal(served("with-init"), "dev-0,dev-2,dev-3");
    });

    it("a plugin error fails the pod with the plugin's message", async () => {
      await core.deleteNamespacedPod({
        namespace: "default",
        name: "with-init",
        gracePeriodSeconds: 0,
      });
      plugin.update([{ ID: "dev-refused", health: HEALTHY }]);
      await core.createNamespacedPod({
        namespace: "default",
        body: devicePod("refused", [asks(1)]),
      });
      await waitFor("refused Failed", async () => (await phase("refused")) === "Failed", 15_000);
      assert.match((await readPod("refused")).status?.message ?? "", /refused by the test plugin/);
    });

    it("a kubelet restart deletes plugin sockets; the plugin registers again and is used", async () => {
      plugin.update([0, 1, 2, 3].map((i) => ({ ID: `dev-${i}`, health: HEALTHY })));
      const before = kubelet.devices.registrations.length;
      await kubelet.restart();
      assert.equal(existsSync(join(kubelet.pluginDir, SOCKET)), false, "plugin socket deleted");
      assert.equal(existsSync(join(kubelet.pluginDir, "kubelet.sock")), true);
      plugin.stop();
      await plugin.serve(kubelet.pluginDir);
      assert.equal(kubelet.devices.registrations.length, before + 1);
      await core.createNamespacedPod({
        namespace: "default",
        body: devicePod("after-restart", [asks(3)]),
      });
      await waitFor(
        "after-restart Running",
        async () => (await phase("after-restart")) === "Running",
        15_000,
      );
      assert.equal(served("after-restart"), "dev-0,dev-2,dev-3", "dev-1 is still held by pod-b");
      assert.deepEqual(kubelet.errors, []);
    });
  },
);
