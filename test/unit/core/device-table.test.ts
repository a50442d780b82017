// Filter's fast path from numbers must answer what the general path answers: the same score to the
// bit where the pod fits, the same refusal message where it does not, undefined (ask the general
// path) where it cannot tell.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DeviceTable,
  fgdScorer,
  nvidia,
  rankNode,
  judgeRow,
  rowPlanFor,
  type Device,
  type DeviceRequest,
  type DeviceUsage,
  type PlacementPolicy,
  type PodPreferences,
  type PodRequest,
} from "../../../src/core/index.js";
import { random } from "../../../src/sim/index.js";

const TYPES = ["NVIDIA-A100-SXM4-40GB", "NVIDIA-Tesla-T4", "NVIDIA-H100-80GB-HBM3"];

interface Case {
  devices: Device[];
  usage: DeviceUsage[];
  request: PodRequest;
  preferences: PodPreferences;
  policy: PlacementPolicy;
}

function device(r: () => number, index: number): Device {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  return {
    uuid: `GPU-${index}`,
    index,
    type: pick(TYPES),
    memoryMiB: pick([15_000, 40_000, 81_920, 0]),
    cores: pick([100, 100, 200, 0]),
    splitCount: pick([1, 2, 4, 10, 0]),
    numa: index % 2,
    mode: "hami-core",
    healthy: r() > 0.1,
    ...(r() < 0.1 ? { cordoned: true } : {}),
  };
}

function used(r: () => number, d: Device): DeviceUsage {
  const slots = Math.floor(r() * (d.splitCount + 1));
  if (slots === 0) return { slots: 0, memoryMiB: 0, cores: 0 };
  return {
    slots,
    memoryMiB: Math.floor(r() * d.memoryMiB),
    cores: Math.floor(r() * (d.cores + 1)),
  };
}

function deviceRequest(r: () => number): DeviceRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  return {
    count: pick([1, 1, 2, 3]),
    memory: r() < 0.7 ? { mib: Math.floor(r() * 30_000) } : { percent: pick([10, 25, 50, 100]) },
    cores: pick([0, 10, 30, 50, 100]),
  };
}

function testCase(r: () => number): Case {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  const devices = Array.from({ length: 1 + Math.floor(r() * 10) }, (_, i) => device(r, i));
  const preferences: PodPreferences = pick([
    {},
    { useGPUType: ["A100"] },
    { nouseGPUType: ["T4"] },
    { useGPUType: ["A100", "H100"], nouseGPUType: ["80GB"] },
  ]);
  return {
    devices,
    usage: devices.map((d) => used(r, d)),
    request: {
      slots: [
        { name: "init", init: true },
        { name: "main", init: false, request: deviceRequest(r) },
        { name: "sidecar", init: false },
      ],
      initContainers: 1,
    },
    preferences,
    policy: {
      nodePolicy: pick(["binpack", "spread"]),
      gpuPolicy: { order: pick(["binpack", "spread"] as const), numa: false, mutex: r() < 0.2 },
      vendor: nvidia,
    },
  };
}

describe("core - device table", () => {
  it("scores every node as rankNode does, to the bit, and refuses with rankNode's message", () => {
    const r = random(20261130);
    const table = new DeviceTable(nvidia);
    const cases = Array.from({ length: 3000 }, () => testCase(r));
    // One table for all: rows of different widths, scratch space reused from node to node.
    for (const [i, c] of cases.entries())
      table.write(table.assign(`node-${i}`), c.devices, c.usage, Infinity);
    let fitting = 0;
    cases.forEach((c, i) => {
      const plan = rowPlanFor(c.request, c.preferences, c.policy);
      assert.ok(plan, `case ${i}: one app container under binpack or spread has a plan`);
      const expected = rankNode(
        { name: `node-${i}`, devices: c.devices, usage: c.usage },
        c.request,
        c.preferences,
        c.policy,
      );
      const got = judgeRow(table, table.rowOf(`node-${i}`), plan);
      if (expected.fits) {
        fitting++;
        assert.ok(Object.is(got, expected.score), `case ${i}: ${got} vs ${expected.score}`);
      } else assert.equal(got, expected.message, `case ${i}`);
    });
    assert.ok(fitting > 500 && fitting < 2500, `both outcomes are exercised: ${fitting} fit`);
  });

  it("one pod over many nodes: the words of a refusal written once serve every node alike", () => {
    const r = random(99);
    const table = new DeviceTable(nvidia);
    const pod = testCase(r);
    const plan = rowPlanFor(pod.request, pod.preferences, pod.policy);
    assert.ok(plan);
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const c = testCase(r);
      const row = table.assign(`n-${i}`);
      table.write(row, c.devices, c.usage, Infinity);
      const node = { name: `n-${i}`, devices: c.devices, usage: c.usage };
      const expected = rankNode(node, pod.request, pod.preferences, pod.policy);
      const got = judgeRow(table, row, plan);
      if (expected.fits) assert.ok(Object.is(got, expected.score), `node ${i}`);
      else {
        refused++;
        assert.equal(got, expected.message, `node ${i}`);
      }
    }
    assert.ok(
      plan.refusals.size < refused,
      `${plan.refusals.size} messages for ${refused} refusals`,
    );
  });

  it("a changed node's row is stale until written; a released row serves the next node", () => {
    const r = random(7);
    const table = new DeviceTable(nvidia);
    const one = testCase(r);
    const row = table.assign("a");
    assert.equal(table.assign("a"), row);
    assert.equal(table.current(row), false, "a row is not current before it is written");
    table.write(row, one.devices, one.usage, 1_000);
    assert.equal(table.current(row), true);
    assert.equal(table.usableUntil(row), 1_000);
    table.invalidate("a");
    assert.equal(table.current(row), false, "a node that changed must be written again");
    table.release("a");
    assert.equal(table.rowOf("a"), -1);
    assert.equal(table.assign("b"), row);
    assert.equal(table.current(row), false);
  });

  it("leaves to the general path what numbers cannot decide", () => {
    const r = random(11);
    const c = testCase(r);
    const plan = (request: PodRequest, preferences: PodPreferences, policy: PlacementPolicy) =>
      rowPlanFor(request, preferences, policy);
    const main = c.request.slots[1]?.request as DeviceRequest;
    const two: PodRequest = {
      slots: [
        { name: "a", init: false, request: main },
        { name: "b", init: false, request: main },
      ],
      initContainers: 0,
    };
    const initGpu: PodRequest = {
      slots: [{ name: "i", init: true, request: main }],
      initContainers: 1,
    };
    assert.equal(plan(two, {}, c.policy), undefined, "two GPU containers");
    assert.equal(plan(initGpu, {}, c.policy), undefined, "a GPU init container");
    for (const preferences of [
      { useGPUUUID: ["GPU-0"] },
      { nouseGPUUUID: ["GPU-0"] },
      { vgpuMode: "mig" },
      { numaBind: true },
    ])
      assert.equal(plan(c.request, preferences, c.policy), undefined, JSON.stringify(preferences));
    const gpuPolicy = c.policy.gpuPolicy;
    assert.equal(
      plan(c.request, {}, { ...c.policy, gpuPolicy: { ...gpuPolicy, numa: true } }),
      undefined,
    );
    assert.equal(
      plan(c.request, {}, { ...c.policy, gpuPolicy: { ...gpuPolicy, topology: true } }),
      undefined,
    );
    const fgd = { ...c.policy, nodePolicy: "fgd", scorers: { fgd: fgdScorer([]) } };
    assert.equal(plan(c.request, {}, fgd), undefined, "a node policy not scored by load alone");
    const mig: Device = { ...gpuOf(c), mode: "mig", migProfiles: [] };
    const table = new DeviceTable(nvidia);
    const row = table.assign("m");
    table.write(row, [mig], [{ slots: 0, memoryMiB: 0, cores: 0 }], Infinity);
    const single = plan(c.request, {}, c.policy);
    assert.ok(single);
    assert.equal(judgeRow(table, row, single), undefined, "a GPU in mode mig");
    const none = table.assign("none");
    table.write(none, [], [], Infinity);
    assert.equal(
      judgeRow(table, none, single),
      undefined,
      "a node without GPUs (fitPod's own words)",
    );
  });
});

function gpuOf(c: Case): Device {
  return c.devices[0] as Device;
}
