// Restart safety of Allocate answered from the served log (real kube-apiserver; the kubelet's
// Allocate calls are made directly, the GPUs are simulated). An agent that answered and died
// before the API write is modelled by an API whose patches never return: the answer must still
// come, and the next agent, on the same served log, must record it on the pod and never serve
// that container again, nor touch another pod that took the same name.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import {
  Annotation,
  BindPhase,
  decodePodDevices,
  encodePodDevices,
  type PodDevices,
  nvidia,
} from "../../src/core/index.js";
import { podApi, type PodApi } from "../../src/k8s/index.js";
import { Allocator } from "../../src/node/index.js";
import { installSimulatedHamiCore } from "../../src/local/index.js";
import { createLogger } from "../../src/telemetry/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";

const NODE = "served-node";
const log = createLogger({ level: "silent" });

describe(
  "served log: Allocate answers before the API write, and survives a restart",
  {
    skip: controlPlaneMissing(),
  },
  () => {
    let plane: ControlPlane | undefined;
    let core: CoreV1Api;
    let api: PodApi;
    let dir = "";

    before(async () => {
      plane = await startControlPlane();
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      api = podApi(kc);
      dir = await mkdtemp(join(tmpdir(), "hami-served-"));
      await installSimulatedHamiCore(dir);
    });

    after(async () => {
      await plane?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A pod bound here whose containers each take one GPU slice, with these memory limits. */
    async function boundPod(name: string, memory: number[]): Promise<V1Pod> {
      const plan: PodDevices = memory.map((mib) => [
        { uuid: "GPU-served-0", type: "NVIDIA", memoryMiB: mib, cores: 0 },
      ]);
      return core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: {
            name,
            annotations: {
              [Annotation.vgpuNode]: NODE,
              [Annotation.devicesToAllocate]: encodePodDevices(plan),
              [Annotation.devicesAllocated]: encodePodDevices(plan),
              [Annotation.bindPhase]: BindPhase.allocating,
            },
          },
          spec: {
            nodeName: NODE,
            containers: memory.map((_, i) => ({ name: `c${i}`, image: "cuda" })),
          },
        },
      });
    }

    function allocator(podApi_: PodApi): Allocator {
      return new Allocator({
        node: NODE,
        api: podApi_,
        listPods: async () =>
          (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${NODE}` })).items,
        log,
        policy: () => ({
          hookPath: dir,
          memoryScaling: 1,
          disableCoreLimit: false,
          lockDir: join(dir, "vgpulock"),
        }),
        isKnownDevice: () => true,
        vendor: nvidia,
        newId: () => randomUUID(),
        clock: () => new Date(),
      });
    }

    /** The API as an agent that dies right after answering sees it: patches never return. */
    const dying = (): PodApi => ({
      ...api,
      annotatePod: () => new Promise<V1Pod>(() => undefined),
    });

    const limitOf = async (agent: Allocator): Promise<string | undefined> =>
      (await agent.allocate({ container_requests: [{ devices_ids: ["GPU-served-0-0"] }] }))
        .container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0;

    it("answers while the API write hangs; the next agent records it and serves the next container", async () => {
      const file = join(dir, "state", `${NODE}.served.log`);
      const pod = await boundPod("two", [1111, 2222]);
      const first = allocator(dying());
      await first.openServedLog(file);
      first.fromPod(pod);
      assert.equal(
        await limitOf(first),
        "1111m",
        "answered from the served log, the API still hanging",
      );
      // The process is gone: its store and its pending patch with it. The pod still says nothing.
      const unchanged = await core.readNamespacedPod({ namespace: "default", name: "two" });
      assert.equal(
        decodePodDevices(
          unchanged.metadata?.annotations?.[Annotation.devicesToAllocate] ?? "",
          "x",
        )[0]?.length,
        1,
      );
      const second = allocator(api);
      await second.openServedLog(file);
      second.fromPod(unchanged); // the informer's first list: the pod as the API has it
      assert.equal(
        await limitOf(second),
        "2222m",
        "container c0 was served: c1 is next, not c0 again",
      );
      await waitFor("bind-phase success on the pod", async () => {
        const now = await core.readNamespacedPod({ namespace: "default", name: "two" });
        return now.metadata?.annotations?.[Annotation.bindPhase] === BindPhase.success
          ? now
          : undefined;
      });
      await second.close();
      const left = (await readFile(file, "utf8")).trim();
      assert.equal(left.split("\n").filter((l) => !l.includes('"done"')).length, 2);
    });

    it("a record for a pod deleted and re-created under its name never lands on the new pod", async () => {
      const file = join(dir, "state", `${NODE}-renamed.served.log`);
      const old = await boundPod("same-name", [3333]);
      const first = allocator(dying());
      await first.openServedLog(file);
      first.fromPod(old);
      assert.equal(await limitOf(first), "3333m");
      await core.deleteNamespacedPod({
        namespace: "default",
        name: "same-name",
        gracePeriodSeconds: 0,
      });
      await waitFor("the old pod gone", async () =>
        (await core
          .readNamespacedPod({ namespace: "default", name: "same-name" })
          .catch(() => undefined)) === undefined
          ? true
          : undefined,
      );
      const fresh = await boundPod("same-name", [4444]);
      const second = allocator(api);
      await second.openServedLog(file);
      await waitFor("the old record given up", async () => {
        const text = await readFile(file, "utf8");
        return text.includes('"done"') ? true : undefined;
      });
      const now = await core.readNamespacedPod({ namespace: "default", name: "same-name" });
      assert.equal(now.metadata?.uid, fresh.metadata?.uid);
      assert.equal(now.metadata?.annotations?.[Annotation.bindPhase], BindPhase.allocating);
      assert.equal(
        now.metadata?.annotations?.[Annotation.devicesToAllocate],
        fresh.metadata?.annotations?.[Annotation.devicesToAllocate],
      );
      await second.close();
    });
  },
);
