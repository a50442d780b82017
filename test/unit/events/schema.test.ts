import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  eventId,
  hamiEventSchema,
  MemoryBus,
  subjectFor,
  type HamiEvent,
} from "../../../src/events/index.js";

function event(overrides: Partial<HamiEvent> = {}): HamiEvent {
  return {
    type: "admission",
    version: 1,
    time: "2026-01-01T00:00:00.000Z",
    id: eventId("admission", "req-1", 0),
    pod: { uid: "", namespace: "team-a", name: "p" },
    ...overrides,
  };
}

describe("events - schema and subjects", () => {
  it("ids are deterministic per (type, key, generation)", () => {
    assert.equal(eventId("admission", "a", 0), eventId("admission", "a", 0));
    assert.notEqual(eventId("admission", "a", 0), eventId("admission", "a", 1));
    assert.notEqual(eventId("admission", "a", 0), eventId("allocation", "a", 0));
    assert.match(eventId("node", "x", 3), /^[0-9a-f]{32}$/);
  });

  it("admission events go to the namespace subject, node events to the node subject (dots escaped)", () => {
    assert.equal(subjectFor(event()), "hami.events.admission.team-a");
    assert.equal(
      subjectFor(event({ type: "allocation", node: "gpu-1.example.com" })),
      "hami.events.allocation.gpu-1_example_com",
    );
  });

  it("rejects unknown versions and types", () => {
    assert.equal(hamiEventSchema.safeParse({ ...event(), version: 2 }).success, false);
    assert.equal(hamiEventSchema.safeParse({ ...event(), type: "other" }).success, false);
  });
});

describe("events - memory bus", () => {
  it("delivers valid events in order, reports invalid ones, keeps a bounded history", () => {
    const problems: string[] = [];
    const bus = new MemoryBus({ maxEvents: 2, onInvalid: (problem) => problems.push(problem) });
    const seen: string[] = [];
    bus.subscribe((e) => seen.push(e.pod.name));
    for (const name of ["a", "b", "c"])
      bus.publish(event({ pod: { uid: "", namespace: "n", name } }));
    bus.publish({ ...event(), time: "yesterday" });
    assert.deepEqual(seen, ["a", "b", "c"]);
    assert.deepEqual(
      bus.history().map((e) => e.pod.name),
      ["b", "c"],
    );
    assert.equal(problems.length, 1);
  });
});
