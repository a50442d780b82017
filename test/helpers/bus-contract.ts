// The EventBus contract, run against every implementation (in-memory in unit tests, NATS
// JetStream against a real nats-server in integration tests) so both keep the same semantics.

import assert from "node:assert/strict";
import { it } from "node:test";
import {
  eventId,
  EventTypes,
  MAX_DELIVER,
  type EventBus,
  type EventType,
  type HamiEvent,
} from "../../src/events/index.js";
import { waitFor } from "./net.js";

export function sampleEvent(type: EventType, n: number, scope = "scope-a"): HamiEvent {
  const event: HamiEvent = {
    type,
    version: 1,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, n)).toISOString(),
    id: eventId(type, `key-${n}`, 0),
    pod: {
      uid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
      namespace: type === "admission" ? scope : "ns",
      name: `pod-${n}`,
    },
  };
  if (type !== "admission") event.node = scope;
  if (type === "allocation" || type === "allocated") {
    event.containers = [
      {
        name: "main",
        devices: [{ uuid: "GPU-1", type: "NVIDIA-A100", memoryMiB: 1024, cores: 30 }],
      },
    ];
  }
  return event;
}

/** Consumes until `count` events arrived (or the timeout), then stops; returns what arrived. */
export async function collect(
  bus: EventBus,
  count: number,
  options: { filter?: string; durable?: string } = {},
): Promise<HamiEvent[]> {
  const seen: HamiEvent[] = [];
  const subscription = bus.consume({
    filter: options.filter ?? ">",
    durable: options.durable,
    handler: (event) => void seen.push(event),
  });
  await waitFor(`${count} events`, () => seen.length >= count, 15_000);
  await subscription.stop();
  return seen;
}

/** Registers the contract tests; `fresh` gives a new bus over an empty stream for each test. */
export function busContract(fresh: () => Promise<EventBus>): void {
  it("round trip for every event type, in publish order", async () => {
    const bus = await fresh();
    const published = EventTypes.flatMap((type, t) =>
      [1, 2].map((n) => sampleEvent(type, t * 10 + n)),
    );
    for (const event of published) bus.publish(event);
    assert.deepEqual(await collect(bus, published.length), published);
    await bus.close();
  });

  it("a subject filter selects by type and node (dots in node names escaped)", async () => {
    const bus = await fresh();
    bus.publish(sampleEvent("allocation", 1, "gpu-1.example.com"));
    bus.publish(sampleEvent("allocation", 2, "gpu-2"));
    bus.publish(sampleEvent("released", 3, "gpu-1.example.com"));
    const seen = await collect(bus, 1, { filter: "allocation.gpu-1_example_com" });
    assert.deepEqual(
      seen.map((e) => e.pod.name),
      ["pod-1"],
    );
    await bus.close();
  });

  it("a duplicate publish (same event id) is delivered once", async () => {
    const bus = await fresh();
    bus.publish(sampleEvent("admission", 1));
    bus.publish(sampleEvent("admission", 1));
    bus.publish(sampleEvent("admission", 2));
    const seen = await collect(bus, 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      seen.map((e) => e.pod.name),
      ["pod-1", "pod-2"],
    );
    await bus.close();
  });

  it("a durable consumer resumes after what it handled", async () => {
    const bus = await fresh();
    for (const n of [1, 2, 3]) bus.publish(sampleEvent("node", n));
    assert.equal((await collect(bus, 3, { durable: "resume-test" })).length, 3);
    for (const n of [4, 5]) bus.publish(sampleEvent("node", n));
    const rest = await collect(bus, 2, { durable: "resume-test" });
    assert.deepEqual(
      rest.map((e) => e.pod.name),
      ["pod-4", "pod-5"],
    );
    await bus.close();
  });

  it("start new / start at a time skip older events; caughtUp resolves on history", async () => {
    const bus = await fresh();
    bus.publish(sampleEvent("admission", 1));
    const first = bus.consume({ filter: ">", handler: () => undefined });
    await first.caughtUp;
    await first.stop();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const since = new Date();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const seenNew: string[] = [];
    const fresh1 = bus.consume({
      filter: ">",
      start: { kind: "new" },
      handler: (e) => void seenNew.push(e.pod.name),
    });
    const seenTime: string[] = [];
    const fromTime = bus.consume({
      filter: ">",
      start: { kind: "time", time: since },
      handler: (e) => void seenTime.push(e.pod.name),
    });
    // Both consumers must exist before the new event: a "new" consumer created after it (a slow
    // machine) would rightly never see it.
    await Promise.all([fresh1.caughtUp, fromTime.caughtUp]);
    bus.publish(sampleEvent("admission", 2));
    await waitFor("new event", () => seenNew.length === 1 && seenTime.length === 1);
    await fresh1.stop();
    await fromTime.stop();
    assert.deepEqual([seenNew, seenTime], [["pod-2"], ["pod-2"]]);
    await bus.close();
  });

  it("caughtUp resolves at once when nothing matches", async () => {
    const bus = await fresh();
    bus.publish(sampleEvent("admission", 1));
    const none = bus.consume({ filter: "released.nowhere", handler: () => undefined });
    await none.caughtUp;
    await none.stop();
    await bus.close();
  });

  it("a failing handler gets the event again; one that always fails gives up after MAX_DELIVER", async () => {
    const bus = await fresh();
    for (const n of [1, 2, 3]) bus.publish(sampleEvent("released", n));
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    const subscription = bus.consume({
      filter: ">",
      handler: (event) => {
        const count = (attempts.get(event.pod.name) ?? 0) + 1;
        attempts.set(event.pod.name, count);
        if (event.pod.name === "pod-1" && count === 1) throw new Error("transient");
        if (event.pod.name === "pod-2") throw new Error("permanent");
        handled.push(event.pod.name);
      },
    });
    await waitFor(
      "retries done",
      () => handled.length === 2 && attempts.get("pod-2") === MAX_DELIVER,
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await subscription.stop();
    assert.deepEqual(handled.sort(), ["pod-1", "pod-3"]);
    assert.equal(attempts.get("pod-1"), 2);
    assert.equal(attempts.get("pod-2"), MAX_DELIVER);
    await bus.close();
  });
}
