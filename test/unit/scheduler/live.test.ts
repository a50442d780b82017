import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { NodeUsage } from "../../../src/core/index.js";
import {
  LiveUsage,
  PendingPods,
  RecentEvents,
  USAGE_STALE_MS,
} from "../../../src/scheduler/index.js";

const sample = (node: string, time: string, tracked: number): NodeUsage => ({
  node,
  time,
  orphans: 0,
  gpus: [{ uuid: "GPU-1", index: 0, type: "T4", trackedBytes: tracked, containers: 0 }],
  containers: [],
});

describe("scheduler - live usage, recent events, pending pods", () => {
  it("keeps each node's newest sample; an older one arriving late does not replace it; stale ones are hidden", () => {
    let now = Date.parse("2026-11-30T10:00:10Z");
    const live = new LiveUsage(() => now);
    live.set(sample("a", "2026-11-30T10:00:05Z", 5));
    live.set(sample("a", "2026-11-30T10:00:01Z", 1));
    assert.equal(live.get("a")?.gpus[0]?.trackedBytes, 5);
    assert.equal(live.get("b"), undefined);
    now += USAGE_STALE_MS;
    assert.equal(live.get("a"), undefined);
  });

  it("remembers the last events, newest first", () => {
    const events = new RecentEvents(2);
    for (const id of ["1", "2", "3"])
      events.add({
        type: "allocated",
        version: 1,
        time: "2026-11-30T10:00:00Z",
        id,
        pod: { uid: "", namespace: "default", name: id },
      });
    assert.deepEqual(
      events.list().map((e) => e.id),
      ["3", "2"],
    );
  });

  it("pending: unbound, not finished, not deleting; leaves once bound; oldest first", () => {
    const pod = (name: string, created: string, extra: Partial<V1Pod> = {}): V1Pod => ({
      metadata: { name, uid: name, creationTimestamp: new Date(created) },
      spec: { containers: [] },
      ...extra,
    });
    const pending = new PendingPods();
    pending.set(pod("late", "2026-11-30T10:00:05Z"));
    pending.set(pod("early", "2026-11-30T10:00:01Z"));
    pending.set(pod("done", "2026-11-30T10:00:00Z", { status: { phase: "Succeeded" } }));
    pending.set(pod("bound", "2026-11-30T10:00:00Z", { spec: { containers: [], nodeName: "n" } }));
    assert.deepEqual(
      pending.oldest(10).map((p) => p.metadata?.name),
      ["early", "late"],
    );
    pending.set(pod("early", "2026-11-30T10:00:01Z", { spec: { containers: [], nodeName: "n" } }));
    pending.remove(pod("late", "2026-11-30T10:00:05Z"));
    assert.deepEqual(pending.oldest(10), []);
  });
});
