// Namespace GPU quota as HAMi enforces it: resolved MiB in fit (a percentage against the chosen
// card), MiB known at admission, memory limit in gpumem units (x memoryFactor).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  admit,
  evaluateNode,
  podQuotaUsage,
  podRequest,
  quotaExceeded,
  requestQuotaUsage,
  type Device,
  type NamespaceQuota,
  type NodeCandidate,
  type PlacementPolicy,
  nvidia,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

const names = {
  memory: "limits.nvidia.com/gpumem",
  cores: "limits.nvidia.com/gpucores",
  memoryFactor: 1,
};
const quota = (memoryMiB?: number, cores?: number, used = { memoryMiB: 0, cores: 0 }) =>
  ({ namespace: "team-a", used, memoryMiB, cores }) as NamespaceQuota;

function card(name: string, memoryMiB: number): NodeCandidate {
  const device: Device = {
    uuid: `${name}-gpu`,
    index: 0,
    type: "NVIDIA-X",
    memoryMiB,
    cores: 100,
    splitCount: 10,
    numa: 0,
    mode: "hami-core",
    healthy: true,
  };
  return { name, devices: [device], usage: [{ slots: 0, memoryMiB: 0, cores: 0 }] };
}

const placement = (q?: NamespaceQuota): PlacementPolicy => ({
  nodePolicy: "binpack",
  gpuPolicy: { order: "binpack", numa: false, mutex: false },
  vendor: nvidia,
  ...(q === undefined ? {} : { quota: { quota: q, names } }),
});

describe("quota - accounting", () => {
  it("a placed pod counts MiB and cores over all its devices, init peak collapsed", () => {
    const slice = (memoryMiB: number, cores: number) => ({
      uuid: "GPU-a",
      type: "NVIDIA",
      memoryMiB,
      cores,
    });
    const two = [[slice(1000, 10), { ...slice(1000, 10), uuid: "GPU-b" }], [slice(500, 0)]];
    assert.deepEqual(podQuotaUsage(two, 0), { memoryMiB: 2500, cores: 20 });
    assert.deepEqual(podQuotaUsage([[slice(6000, 0)], [slice(1000, 0)]], 1), {
      memoryMiB: 6000,
      cores: 0,
    });
  });

  it("admission counts MiB x count; a percentage waits for the card", () => {
    const request = podRequest(
      pod({
        containers: [
          container("a", {
            "nvidia.com/gpu": "2",
            "nvidia.com/gpumem": "3000",
            "nvidia.com/gpucores": "20",
          }),
          container("b", { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "50" }),
        ],
      }),
      policy(),
    );
    assert.deepEqual(requestQuotaUsage(request), { memoryMiB: 6000, cores: 40 });
  });

  it("the memory limit is in gpumem units (x memoryFactor); cores are checked too", () => {
    const q = quota(1000, 50, { memoryMiB: 3000, cores: 40 });
    assert.equal(
      quotaExceeded(q, { memoryMiB: 1000, cores: 0 }, { ...names, memoryFactor: 4 }),
      undefined,
    );
    assert.equal(
      quotaExceeded(q, { memoryMiB: 1001, cores: 0 }, { ...names, memoryFactor: 4 }),
      "ResourceQuotaNotFit: namespace team-a quota limits.nvidia.com/gpumem: used 3000 MiB + asked 1001 MiB > limit 4000 MiB",
    );
    assert.equal(
      quotaExceeded(q, { memoryMiB: 0, cores: 20 }, names),
      "ResourceQuotaNotFit: namespace team-a quota limits.nvidia.com/gpucores: used 40 + asked 20 > limit 50",
    );
  });
});

describe("quota - in placement and at admission", () => {
  it("a percentage is resolved against the card: fits the small card's quota, not the big one's", () => {
    const request = podRequest(
      pod({
        containers: [
          container("c", { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "50" }),
        ],
      }),
      policy(),
    );
    const q = quota(10_000);
    const small = evaluateNode(card("t4", 16_000), request, {}, placement(q));
    const big = evaluateNode(card("a100", 40_000), request, {}, placement(q));
    assert.ok(small.fits);
    assert.ok(!big.fits);
    assert.equal(big.fits ? "" : big.reason, "ResourceQuotaNotFit");
    assert.match(big.fits ? "" : big.message, /used 0 MiB \+ asked 20000 MiB > limit 10000 MiB/);
  });

  it("admission refuses a pod whose MiB exceed the namespace quota, naming quota, used and asked", () => {
    const input = pod({
      containers: [container("c", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "6000" })],
    });
    const request = {
      uid: "r1",
      kind: { group: "", version: "v1", kind: "Pod" },
      operation: "CREATE",
      namespace: "team-a",
      object: input,
    };
    const lookup = () => quota(10_000, undefined, { memoryMiB: 5000, cores: 0 });
    const { response } = admit(request, policy(), lookup);
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.match(
      response.status?.message ?? "",
      /^\[ResourceQuotaExceeded\] ResourceQuotaNotFit: namespace team-a quota limits.nvidia.com\/gpumem: used 5000 MiB \+ asked 6000 MiB > limit 10000 MiB$/,
    );
    assert.equal(admit(request, policy(), () => undefined).response.allowed, true);
  });
});
