import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import {
  Annotation,
  encodeNodeDevices,
  encodePodDevices,
  MIG_ALLOCATIONS,
  type PodDevices,
} from "../../../src/core/index.js";
import {
  ArrivalWorkload,
  ClusterView,
  WORKLOAD_HALF_LIFE_MS,
} from "../../../src/scheduler/index.js";
import { simulatedGpus } from "../../helpers/gpu-nodes.js";

const NOW = Date.parse("2026-11-29T00:00:00Z");

function view(options: Partial<ConstructorParameters<typeof ClusterView>[0]> = {}) {
  const invalid: string[] = [];
  const v = new ClusterView({
    now: () => NOW,
    registerStaleMs: 0,
    requireLease: false,
    onInvalid: (what) => invalid.push(what),
    ...options,
  });
  return { v, invalid };
}

function node(name: string, annotations: Record<string, string> = {}): V1Node {
  return {
    metadata: {
      name,
      annotations: {
        [Annotation.nodeRegister]: encodeNodeDevices(simulatedGpus(name, 2)),
        ...annotations,
      },
    },
  };
}

function pod(
  uid: string,
  nodeName: string,
  devices: PodDevices,
  extra: Partial<V1Pod> = {},
): V1Pod {
  return {
    metadata: {
      uid,
      name: uid,
      namespace: "default",
      annotations: {
        [Annotation.vgpuNode]: nodeName,
        [Annotation.devicesToAllocate]: encodePodDevices(devices),
        [Annotation.bindPhase]: "allocating",
      },
    },
    spec: { nodeName, containers: devices.map((_, i) => ({ name: `c${i}` })) },
    status: { phase: "Pending" },
    ...extra,
  };
}

/** A device's usage as the view would hand it to core; `exclude` leaves one pod out. */
function used(v: ClusterView, nodeName: string, uuid: string, exclude?: string) {
  const c = v.candidate(nodeName, exclude);
  return c.usage[c.devices.findIndex((d) => d.uuid === uuid)];
}

/** How many devices of the node have anything on them. */
function busy(v: ClusterView, nodeName: string): number {
  return v.candidate(nodeName).usage.filter((u) => u.slots > 0).length;
}

const slice = (uuid: string, memoryMiB: number, cores = 0) => ({
  uuid,
  type: "NVIDIA",
  memoryMiB,
  cores,
});

describe("ClusterView - HAMi's lifecycle and container order", () => {
  it("a HAMi-served pod (to-allocate erased, allocated kept) holds its devices", () => {
    const { v } = view();
    v.setNode(node("n1"));
    const served = pod("served", "n1", []);
    served.metadata!.annotations = {
      [Annotation.vgpuNode]: "n1",
      [Annotation.devicesToAllocate]: ";",
      [Annotation.devicesAllocated]: "GPU-n1-0,NVIDIA,15360,100:;",
      [Annotation.bindPhase]: "success",
    };
    served.status = { phase: "Running" };
    v.setPod(served);
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), { slots: 1, memoryMiB: 15_360, cores: 100 });
  });

  it("init containers come first in the annotation; once all exited 0 only app devices are held", () => {
    const { v } = view();
    v.setNode(node("n1"));
    const base = pod("p", "n1", [[slice("GPU-n1-0", 12_000)], [slice("GPU-n1-0", 2000)]]);
    base.spec = {
      nodeName: "n1",
      initContainers: [{ name: "init" }],
      containers: [{ name: "app" }],
    };
    v.setPod(base);
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), { slots: 1, memoryMiB: 12_000, cores: 0 });
    v.setPod({
      metadata: base.metadata,
      spec: base.spec,
      status: {
        phase: "Running",
        initContainerStatuses: [
          {
            name: "init",
            image: "x",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0 } },
          },
        ],
      },
    });
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), { slots: 1, memoryMiB: 2000, cores: 0 });
  });
});

describe("ClusterView - MIG instances from hami.io/vgpu-mig-allocations", () => {
  it("a pod's MIG instance is held where it sits; a MIG record naming another GPU is invalid", () => {
    const { v, invalid } = view();
    v.setNode(node("n1"));
    const onMig = pod("mig", "n1", [[slice("GPU-n1-0", 9728, 15)]]);
    onMig.metadata!.annotations![MIG_ALLOCATIONS] =
      '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-n1-0","profile":"1g.10gb","placement":{"start":6,"size":1}}]';
    v.setPod(onMig);
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), {
      slots: 1,
      memoryMiB: 9728,
      cores: 15,
      mig: [{ start: 6, size: 1 }],
    });
    const wrong = pod("wrong", "n1", [[slice("GPU-n1-1", 9728, 15)]]);
    wrong.metadata!.annotations![MIG_ALLOCATIONS] = onMig.metadata!.annotations![MIG_ALLOCATIONS];
    v.setPod(wrong);
    assert.deepEqual(invalid, ["pod default/wrong"]);
  });
});

describe("ClusterView - usage from pod annotations", () => {
  it("sums the pods on a node per device, and forgets deleted and terminal pods", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setPod(pod("a", "n1", [[slice("GPU-n1-0", 1000, 10)]]));
    v.setPod(pod("b", "n1", [[slice("GPU-n1-0", 2000)], [slice("GPU-n1-1", 500)]]));
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), {
      slots: 2,
      memoryMiB: 3000,
      cores: 10,
    });
    v.setPod(pod("a", "n1", [[slice("GPU-n1-0", 1000, 10)]], { status: { phase: "Succeeded" } }));
    assert.deepEqual(used(v, "n1", "GPU-n1-0"), {
      slots: 1,
      memoryMiB: 2000,
      cores: 0,
    });
    v.removePod(pod("b", "n1", []));
    assert.equal(busy(v, "n1"), 0);
  });

  it("a failed bind phase holds nothing; a malformed allocation is reported, not counted", () => {
    const { v, invalid } = view();
    v.setNode(node("n1"));
    const failed = pod("a", "n1", [[slice("GPU-n1-0", 1000)]]);
    failed.metadata!.annotations![Annotation.bindPhase] = "failed";
    v.setPod(failed);
    const broken = pod("b", "n1", []);
    broken.metadata!.annotations![Annotation.devicesToAllocate] = "GPU-n1-0,NVIDIA,lots,0:;";
    v.setPod(broken);
    assert.equal(busy(v, "n1"), 0);
    assert.deepEqual(invalid, ["pod default/b"]);
  });

  it("excluding a pod re-plans it against the others only", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setPod(pod("a", "n1", [[slice("GPU-n1-0", 1000)]]));
    v.setPod(pod("b", "n1", [[slice("GPU-n1-0", 2000)]]));
    assert.equal(used(v, "n1", "GPU-n1-0", "a")?.memoryMiB, 2000);
    assert.equal(used(v, "n1", "GPU-n1-0")?.memoryMiB, 3000);
  });
});

describe("ClusterView - reservations", () => {
  const reservation = (uid: string, nodeName: string, devices: PodDevices) => ({
    uid,
    namespace: "default",
    name: uid,
    node: nodeName,
    devices,
    usage: new Map([
      [devices[0]![0]!.uuid, { slots: 1, memoryMiB: devices[0]![0]!.memoryMiB, cores: 0 }],
    ]),
  });

  it("count at once, win over stale annotations, and end when the matching annotations arrive", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setNode(node("n2"));
    v.setPod(pod("a", "n2", [[slice("GPU-n2-0", 700)]]));
    const planned: PodDevices = [[slice("GPU-n1-1", 4000)]];
    v.reserve(reservation("a", "n1", planned));
    assert.equal(used(v, "n1", "GPU-n1-1")?.memoryMiB, 4000);
    assert.equal(busy(v, "n2"), 0, "the old annotation is superseded");
    v.setPod(pod("a", "n2", [[slice("GPU-n2-0", 700)]]));
    assert.equal(used(v, "n1", "GPU-n1-1")?.memoryMiB, 4000, "a late event of the old pod");
    v.setPod(pod("a", "n1", planned));
    v.unreserve("a");
    assert.equal(used(v, "n1", "GPU-n1-1")?.memoryMiB, 4000, "now held by the annotation");
    assert.deepEqual(
      v.holders("n1").map((h) => h.uid),
      ["a"],
    );
  });

  it("an undone reservation frees its devices", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.reserve(reservation("x", "n1", [[slice("GPU-n1-0", 4000)]]));
    v.unreserve("x");
    assert.equal(busy(v, "n1"), 0);
  });
});

describe("ClusterView - node availability", () => {
  const lease = (nodeName: string, renewed: number) => ({
    metadata: { name: `hami-agent-${nodeName}` },
    spec: {
      renewTime: new Date(renewed).toISOString() as unknown as Date,
      leaseDurationSeconds: 40,
    },
  });

  it("an expired agent Lease makes the node unavailable, a fresh one available", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setLease(lease("n1", NOW - 100_000));
    assert.match(v.candidate("n1").unavailable ?? "", /agent Lease expired 60 s ago/);
    v.setLease(lease("n1", NOW - 1_000));
    assert.equal(v.candidate("n1").unavailable, undefined);
  });

  it("an agent Lease that appears or comes back from expiry nudges kube-scheduler; a renewal does not", () => {
    const nudged: string[] = [];
    const { v } = view({ onRelease: (n) => void nudged.push(n) });
    v.setNode(node("n1"));
    nudged.length = 0;
    v.setLease(lease("n1", NOW - 1_000)); // appears
    v.setLease(lease("n1", NOW - 500)); // renewed while alive
    v.setLease(lease("n1", NOW - 100_000)); // a stale copy: expired
    v.setLease(lease("n1", NOW - 200)); // back from expiry
    assert.deepEqual(nudged, ["n1", "n1"]);
  });

  it("a node that becomes usable or changes its devices nudges kube-scheduler; the nudge itself does not", () => {
    // kube-scheduler may retry a pod on the Node update before this view has it: the refusal on the
    // old record must not leave the pod waiting for an unrelated event.
    const nudged: string[] = [];
    const { v } = view({
      offeredResource: "nvidia.com/gpu",
      onRelease: (n) => void nudged.push(n),
    });
    const state = (count: string, annotations: Record<string, string> = {}): V1Node => {
      const n = node("n1", annotations);
      n.status = { allocatable: { "nvidia.com/gpu": count } };
      return n;
    };
    v.setNode(state("0")); // the plugin not registered yet: unusable, nothing to retry
    assert.deepEqual(nudged, []);
    v.setNode(state("20")); // the kubelet offers the GPUs again
    assert.deepEqual(nudged, ["n1"]);
    v.setNode(state("20", { "hami.io/scheduler-released-at": "2026-11-29T00:00:01Z" }));
    v.setNode(state("20")); // a status update that changes nothing here
    assert.deepEqual(nudged, ["n1"]);
    const cordoned = { [Annotation.deviceCordon]: "GPU-n1-0" };
    v.setNode(state("20", cordoned)); // a GPU cordoned: changed, and possibly by an uncordon
    v.setNode(state("20")); // uncordoned
    assert.deepEqual(nudged, ["n1", "n1", "n1"]);
  });

  it("requireLease refuses nodes without a Lease; other Leases are ignored", () => {
    const { v } = view({ requireLease: true });
    v.setNode(node("n1"));
    v.setLease({
      metadata: { name: "n1" },
      spec: { renewTime: new Date(NOW).toISOString() as unknown as Date },
    });
    assert.match(v.candidate("n1").unavailable ?? "", /no agent Lease hami-agent-n1/);
  });

  it("a node whose kubelet offers none of the GPU resource (plugin not registered) is unavailable", () => {
    const { v } = view({ offeredResource: "nvidia.com/gpu" });
    const withAllocatable = (count: string | undefined): V1Node => {
      const n = node("n1");
      n.status = count === undefined ? {} : { allocatable: { "nvidia.com/gpu": count } };
      return n;
    };
    v.setNode(withAllocatable("0"));
    assert.match(
      v.candidate("n1").unavailable ?? "",
      /the kubelet offers no nvidia.com\/gpu \(device plugin not registered\)/,
    );
    v.setNode(withAllocatable(undefined));
    assert.match(v.candidate("n1").unavailable ?? "", /offers no nvidia.com\/gpu/);
    v.setNode(withAllocatable("20"));
    assert.equal(v.candidate("n1").unavailable, undefined);
    const { v: unchecked } = view();
    unchecked.setNode(withAllocatable("0"));
    assert.equal(unchecked.candidate("n1").unavailable, undefined, "not checked unless asked");
  });

  it("a stale or malformed register annotation and an unknown node say why", () => {
    const { v, invalid } = view({ registerStaleMs: 60_000 });
    v.setNode(
      node("old", { [Annotation.nodeRegisterTime]: new Date(NOW - 120_000).toISOString() }),
    );
    v.setNode(node("bad", { [Annotation.nodeRegister]: "GPU-x,ten,1,1,T4,0,true" }));
    v.setNode({ metadata: { name: "bare" } });
    assert.match(v.candidate("old").unavailable ?? "", /is 120 s old/);
    assert.match(v.candidate("bad").unavailable ?? "", /count "ten" is not an integer/);
    assert.match(
      v.candidate("bare").unavailable ?? "",
      /no hami.io\/node-nvidia-register annotation/,
    );
    assert.match(v.candidate("ghost").unavailable ?? "", /not known/);
    assert.deepEqual(invalid, ["node bad"]);
  });
});

describe("ClusterView - pods waiting for Allocate (allocation identity)", () => {
  const agentLease = {
    metadata: { name: "hami-agent-n1" },
    spec: { renewTime: new Date(NOW).toISOString() as unknown as Date, leaseDurationSeconds: 40 },
  };
  const bound = (uid: string, devices: PodDevices, secondsAgo = 1, toAllocate = devices) =>
    pod(uid, "n1", devices, {
      metadata: {
        uid,
        name: uid,
        namespace: "default",
        annotations: {
          [Annotation.vgpuNode]: "n1",
          [Annotation.devicesAllocated]: encodePodDevices(devices),
          [Annotation.devicesToAllocate]: encodePodDevices(toAllocate),
          [Annotation.bindPhase]: "allocating",
          [Annotation.bindTime]: String(Math.floor(NOW / 1000) - secondsAgo),
        },
      },
    });
  const EXPIRY = 60_000;
  /** A bind that came after the pods above. */
  const later = (uid: string) => ({ uid, since: NOW });

  it("a pod still waiting for Allocate holds back only pods with a container of the same device count", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setLease(agentLease);
    v.setPod(
      bound("a", [[slice("GPU-n1-0", 100)], [slice("GPU-n1-0", 50), slice("GPU-n1-1", 50)]]),
    );
    assert.equal(v.awaitingAllocate("n1", [1], later("b"), EXPIRY)?.name, "a");
    assert.equal(v.awaitingAllocate("n1", [2, 3], later("b"), EXPIRY)?.name, "a");
    assert.equal(
      v.awaitingAllocate("n1", [3], later("b"), EXPIRY),
      undefined,
      "another shape binds",
    );
    assert.equal(v.awaitingAllocate("n1", [1], later("a"), EXPIRY), undefined, "never itself");
    assert.equal(v.awaitingAllocate("n2", [1], later("b"), EXPIRY), undefined, "another node");
  });

  it("served containers (erased from -to-allocate), success, expiry or no agent release the wait", () => {
    const two = [[slice("GPU-n1-0", 100)], [slice("GPU-n1-1", 100), slice("GPU-n1-0", 1)]];
    const { v } = view();
    v.setNode(node("n1"));
    v.setLease(agentLease);
    v.setPod(bound("a", two, 1, [[], two[1] ?? []]));
    assert.equal(
      v.awaitingAllocate("n1", [1], later("b"), EXPIRY),
      undefined,
      "the 1-GPU container was served",
    );
    assert.equal(v.awaitingAllocate("n1", [2], later("b"), EXPIRY)?.name, "a");
    const done = bound("a", two, 1, [[], []]);
    done.metadata!.annotations![Annotation.bindPhase] = "success";
    v.setPod(done);
    assert.equal(v.awaitingAllocate("n1", [2], later("b"), EXPIRY), undefined);
    v.setPod(bound("old", two, 61));
    assert.equal(
      v.awaitingAllocate("n1", [1], later("b"), EXPIRY),
      undefined,
      "bound 61 s ago: expired",
    );
    const { v: noAgent } = view();
    noAgent.setNode(node("n1"));
    noAgent.setPod(bound("a", two));
    assert.equal(
      noAgent.awaitingAllocate("n1", [1], later("b"), EXPIRY),
      undefined,
      "no agent Lease",
    );
  });

  it("a bind in flight holds back later confusable binds at once, never earlier ones", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setLease(agentLease);
    const reserve = (uid: string) =>
      v.reserve({
        uid,
        namespace: "default",
        name: uid,
        node: "n1",
        devices: [[slice("GPU-n1-0", 100)]],
        usage: new Map(),
      });
    const a = reserve("a");
    const b = reserve("b");
    assert.equal(v.awaitingAllocate("n1", [1], { uid: "b", since: b }, EXPIRY)?.name, "a");
    assert.equal(
      v.awaitingAllocate("n1", [1], { uid: "a", since: a }, EXPIRY),
      undefined,
      "first come, first served: two waiting binds never wait on each other",
    );
    assert.equal(reserve("b"), b, "a bind that re-plans keeps its place in line");
  });

  it("a bound pod holds back every confusable bind, also binds that started before it was bound", () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setLease(agentLease);
    const devices = [[slice("GPU-n1-0", 100)]];
    const reserve = (uid: string) =>
      v.reserve({ uid, namespace: "default", name: uid, node: "n1", devices, usage: new Map() });
    const bSince = reserve("b");
    const cSince = reserve("c");
    assert.equal(v.awaitingAllocate("n1", [1], { uid: "b", since: bSince }, EXPIRY), undefined);
    // b binds; its annotations carry a bind time later than c's reservation. The adversarial-
    // kubelet test found c binding meanwhile, and the kubelet mixing b and c up.
    v.setPod(bound("b", devices, -30));
    assert.equal(v.awaitingAllocate("n1", [1], { uid: "c", since: cSince }, EXPIRY)?.name, "b");
    assert.equal(v.awaitingAllocate("n1", [1], { uid: "d", since: 0 }, EXPIRY)?.name, "b");
  });

  it("a waiting bind wakes at the next change on its node, not on another node's", async () => {
    const { v } = view();
    v.setNode(node("n1"));
    v.setNode(node("n2"));
    const woke: string[] = [];
    const n1 = v.changed("n1", 5_000).then(() => woke.push("n1"));
    const n2 = v.changed("n2", 100).then(() => woke.push("n2"));
    v.setPod(bound("a", [[slice("GPU-n1-0", 100)]]));
    await Promise.all([n1, n2]);
    assert.deepEqual(woke, ["n1", "n2"], "n1 at its change, n2 only when its 100 ms ran out");
  });
});

describe("ClusterView - the workload fgd measures against", () => {
  it("counts each pod once when placed, weighs older arrivals down, keeps a gone pod's arrival", () => {
    let now = NOW;
    const { v } = view({ now: () => now });
    v.setNode(node("n1"));
    assert.deepEqual(
      v.workload(),
      [{ gpus: 1, share: 1, weight: 1 }],
      "nothing placed: a whole GPU",
    );
    v.setPod(pod("a", "n1", [[slice("GPU-n1-0", 100, 50)]]));
    now += WORKLOAD_HALF_LIFE_MS;
    v.setPod(pod("b", "n1", [[slice("GPU-n1-1", 100, 20)]]));
    v.setPod(pod("b", "n1", [[slice("GPU-n1-1", 100, 20)]]));
    v.removePod(pod("a", "n1", []));
    assert.deepEqual(
      v.workload().map((c) => [c.gpus, c.share, c.weight]),
      [
        [1, 0.5, 0.5],
        [1, 0.2, 1],
      ],
    );
  });

  it("a class not seen for eleven half-lives is forgotten", () => {
    const workload = new ArrivalWorkload(1_000);
    workload.arrive([{ gpus: 1, share: 0.5 }], 0);
    workload.arrive([{ gpus: 2, share: 1 }], 11_000);
    assert.deepEqual(workload.classes(), [{ gpus: 2, share: 1, weight: 1 }]);
  });
});
