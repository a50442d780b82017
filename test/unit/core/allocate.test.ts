import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  awaitingCounts,
  cacheDirProblem,
  confusable,
  containerResponse,
  matchAllocate,
  nextContainer,
  type AllocatePolicy,
  type PendingPod,
} from "../../../src/core/index.js";

const policy: AllocatePolicy = {
  hookPath: "/usr/local",
  memoryScaling: 1,
  disableCoreLimit: false,
  lockDir: "/tmp/vgpulock",
};
const gpu = (uuid: string, memoryMiB: number, cores: number) => ({
  uuid,
  type: "NVIDIA",
  memoryMiB,
  cores,
});
const who = { podUID: "uid-1", container: "main", env: {} };

describe("allocate - the HAMi-core environment contract", () => {
  it("one GPU: visible device, memory limit in MiB with 'm', SM limit, shared cache, four mounts with their source types", () => {
    const r = containerResponse([gpu("GPU-a", 3000, 30)], who, policy, "cache-1");
    assert.deepEqual(r.envs, {
      NVIDIA_VISIBLE_DEVICES: "GPU-a",
      CUDA_DEVICE_MEMORY_LIMIT_0: "3000m",
      CUDA_DEVICE_SM_LIMIT: "30",
      CUDA_DEVICE_MEMORY_SHARED_CACHE: "/usr/local/vgpu/cache-1.cache",
    });
    assert.deepEqual(r.mounts, [
      {
        containerPath: "/usr/local/vgpu/libvgpu.so",
        hostPath: "/usr/local/vgpu/libvgpu.so",
        readOnly: true,
        source: "file",
      },
      {
        containerPath: "/usr/local/vgpu",
        hostPath: "/usr/local/vgpu/containers/uid-1_main",
        readOnly: false,
        source: "directory",
      },
      {
        containerPath: "/tmp/vgpulock",
        hostPath: "/tmp/vgpulock",
        readOnly: false,
        source: "directory",
      },
      {
        containerPath: "/etc/ld.so.preload",
        hostPath: "/usr/local/vgpu/ld.so.preload",
        readOnly: true,
        source: "file",
      },
    ]);
  });

  it("several GPUs: comma list and one memory limit per device index", () => {
    const r = containerResponse([gpu("GPU-a", 1000, 0), gpu("GPU-b", 2000, 0)], who, policy, "c");
    assert.equal(r.envs.NVIDIA_VISIBLE_DEVICES, "GPU-a,GPU-b");
    assert.equal(r.envs.CUDA_DEVICE_MEMORY_LIMIT_0, "1000m");
    assert.equal(r.envs.CUDA_DEVICE_MEMORY_LIMIT_1, "2000m");
    assert.equal(r.envs.CUDA_DEVICE_SM_LIMIT, "0");
  });

  it("oversubscription, disablecorelimit, log level and CUDA_DISABLE_CONTROL", () => {
    const r = containerResponse(
      [gpu("GPU-a", 1000, 0)],
      { ...who, env: { CUDA_DISABLE_CONTROL: "true" } },
      {
        ...policy,
        hookPath: "/opt/hami",
        memoryScaling: 1.5,
        disableCoreLimit: true,
        libCudaLogLevel: 3,
      },
      "c",
    );
    assert.equal(r.envs.CUDA_OVERSUBSCRIBE, "true");
    assert.equal(r.envs.GPU_CORE_UTILIZATION_POLICY, "disable");
    assert.equal(r.envs.LIBCUDA_LOG_LEVEL, "3");
    assert.equal(r.envs.CUDA_DEVICE_MEMORY_SHARED_CACHE, "/opt/hami/vgpu/c.cache");
    assert.deepEqual(r.mounts, [], "control disabled: none of the HAMi-core mounts");
  });

  it("the lock dir's host path is the agent's (--vgpu-lock-dir); the container always sees /tmp/vgpulock", () => {
    const r = containerResponse(
      [gpu("GPU-a", 1, 0)],
      who,
      { ...policy, lockDir: "/var/run/locks" },
      "c",
    );
    assert.deepEqual(
      r.mounts.find((m) => m.containerPath === "/tmp/vgpulock"),
      {
        containerPath: "/tmp/vgpulock",
        hostPath: "/var/run/locks",
        readOnly: false,
        source: "directory",
      },
    );
  });

  it("CUDA_DISABLE_CONTROL is a Go bool: 1, t, True, TRUE disable; anything else does not", () => {
    const mounts = (value: string) =>
      containerResponse(
        [gpu("GPU-a", 1000, 0)],
        { ...who, env: { CUDA_DISABLE_CONTROL: value } },
        policy,
        "c",
      ).mounts.length;
    for (const value of ["1", "t", "T", "true", "True", "TRUE"])
      assert.equal(mounts(value), 0, value);
    for (const value of ["0", "false", "yes", "on", ""]) assert.equal(mounts(value), 4, value);
  });
});

describe("allocate - MIG instances", () => {
  const instance = (uuid: string) => ({
    ...gpu(uuid, 9728, 15),
    mig: { profile: "1g.10gb", placement: { start: 0, size: 1 } },
  });

  it("only MIG instances: the device alone, no HAMi-core (as HAMi answers in mig mode)", () => {
    const r = containerResponse([instance("MIG-x")], who, policy, "c");
    assert.deepEqual(r, { envs: { NVIDIA_VISIBLE_DEVICES: "MIG-x" }, mounts: [] });
  });

  it("a MIG instance next to a shared GPU: limits only for the shared one, at its position", () => {
    const r = containerResponse([instance("MIG-x"), gpu("GPU-b", 2000, 30)], who, policy, "c");
    assert.equal(r.envs.NVIDIA_VISIBLE_DEVICES, "MIG-x,GPU-b");
    assert.equal(r.envs.CUDA_DEVICE_MEMORY_LIMIT_0, undefined);
    assert.equal(r.envs.CUDA_DEVICE_MEMORY_LIMIT_1, "2000m");
    assert.equal(r.envs.CUDA_DEVICE_SM_LIMIT, "30", "the instance's 15 is not an SM limit");
    assert.equal(r.mounts.length, 4);
  });
});

describe("allocate - host paths", () => {
  it("only a UUID pod uid and a DNS-1123 container name may name a cache dir", () => {
    assert.equal(cacheDirProblem("0f8fad5b-d9cb-469f-a165-70867728950e", "main"), undefined);
    assert.match(
      cacheDirProblem("../../../../tmp", "main") ?? "",
      /pod uid "..\/..\/..\/..\/tmp" is not a UUID/,
    );
    assert.match(
      cacheDirProblem("0f8fad5b-d9cb-469f-a165-70867728950e", "../x") ?? "",
      /container name "..\/x" is not a DNS-1123 label/,
    );
  });
});

describe("allocate - which container a kubelet call is for", () => {
  const pod = (uid: string, created: number, devices: number[]): PendingPod => ({
    uid,
    namespace: "default",
    name: uid,
    created,
    arrival: created,
    containers: devices.map((_, i) => `c${i}`),
    devices: devices.map((n) => Array.from({ length: n }, (_, i) => gpu(`GPU-${i}`, 100, 0))),
    served: [],
  });

  it("pods in creation order, then their next container with that many devices", () => {
    const older = pod("older", 1, [1]);
    const newer = pod("newer", 2, [2]);
    const one = matchAllocate([newer, older], 1);
    assert.ok("pod" in one);
    assert.equal(one.pod.uid, "older");
    const two = matchAllocate([newer, older], 2);
    assert.ok("pod" in two);
    assert.equal(two.pod.uid, "newer");
  });

  it("pods created in the same second go in the order they reached the node", () => {
    const second = { ...pod("b-second", 1, [1]), arrival: 20 };
    const first = { ...pod("z-first", 1, [1]), arrival: 10 };
    const match = matchAllocate([second, first], 1);
    assert.ok("pod" in match);
    assert.equal(match.pod.uid, "z-first");
  });

  it("PodDevices order (init containers first), no-device containers and served ones skipped", () => {
    const p = pod("p", 1, [2, 1, 0]);
    assert.equal(nextContainer(p), 0, "the init container (index 0) comes first");
    p.served[0] = true;
    assert.equal(nextContainer(p), 1);
    p.served[1] = true;
    assert.equal(nextContainer(p), undefined);
  });

  it("explains a mismatch and an empty node", () => {
    const miss = matchAllocate([pod("p", 1, [2])], 3);
    assert.ok("error" in miss);
    assert.equal(
      miss.error,
      "no pending container asks for 3 device(s): default/p container c0 expects 2",
    );
    const none = matchAllocate([], 1);
    assert.ok("error" in none);
    assert.match(none.error, /no pod bound to this node is waiting/);
  });
});

describe("allocate - which pods the kubelet could confuse", () => {
  it("counts the devices of the containers still waiting; containers without devices get no call", () => {
    assert.deepEqual(
      awaitingCounts([[gpu("a", 1, 0)], [], [gpu("a", 1, 0), gpu("b", 1, 0)]]),
      [1, 2],
    );
    assert.deepEqual(awaitingCounts([[], []]), []);
  });

  it("two pods are confusable when a container of each asks for as many devices", () => {
    assert.equal(confusable([1], [1]), true);
    assert.equal(confusable([1, 2], [2, 4]), true);
    assert.equal(confusable([1], [2]), false);
    assert.equal(confusable([], [1]), false, "nothing left to allocate");
  });
});
