import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  eventId,
  hamiEventSchema,
  MemoryBus,
  subjectFor,
  subjectMatches,
  type HamiEvent,
} from "../../../src/events/index.js";
import { busContract, sampleEvent } from "../../helpers/bus-contract.js";

function event(overrides: Partial<HamiEvent> = {}): HamiEvent {
  return { ...sampleEvent("admission", 1, "team-a"), ...overrides };
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

  it("every field of an allocation event is bounded: uid, names, devices, sizes", () => {
    const valid = sampleEvent("allocation", 1, "node-1");
    assert.ok(hamiEventSchema.safeParse(valid).success);
    const bad: [string, HamiEvent, RegExp][] = [
      ["uid not a UUID", { ...valid, pod: { ...valid.pod, uid: "../../tmp" } }, /pod\.uid/],
      ["namespace", { ...valid, pod: { ...valid.pod, namespace: "A B" } }, /pod\.namespace/],
      ["node", { ...valid, node: "node/../x" }, /node/],
      [
        "container name with a path",
        { ...valid, containers: [{ name: "../../../../tmp/x", devices: [] }] },
        /containers\.0\.name/,
      ],
      [
        "cores above 100",
        {
          ...valid,
          containers: [
            { name: "c", devices: [{ uuid: "GPU-1", type: "NVIDIA", memoryMiB: 1, cores: 101 }] },
          ],
        },
        /cores/,
      ],
      ["a reason of 1 MB", { ...valid, reason: "x".repeat(1_000_000) }, /reason/],
    ];
    for (const [name, event, path] of bad) {
      const parsed = hamiEventSchema.safeParse(event);
      assert.ok(!parsed.success, name);
      assert.match(parsed.error.issues.map((i) => i.path.join(".")).join(" "), path, name);
    }
  });

  const matches: [string, string, boolean][] = [
    ["hami.events.>", "hami.events.admission.ns", true],
    ["hami.events.*.ns", "hami.events.admission.ns", true],
    ["hami.events.*", "hami.events.admission.ns", false],
    ["hami.events.admission.ns", "hami.events.admission.ns", true],
    ["hami.events.admission.ns", "hami.events.admission.other", false],
    ["hami.events.admission.>", "hami.events.admission", false],
  ];
  for (const [pattern, subject, expected] of matches) {
    it(`${pattern} ${expected ? "matches" : "does not match"} ${subject}`, () => {
      assert.equal(subjectMatches(pattern, subject), expected);
    });
  }

  it("rejects unknown versions and types", () => {
    assert.equal(hamiEventSchema.safeParse({ ...event(), version: 2 }).success, false);
    assert.equal(hamiEventSchema.safeParse({ ...event(), type: "other" }).success, false);
  });
});

describe("events - memory bus contract", () => {
  busContract(() => Promise.resolve(new MemoryBus()));
});

describe("events - memory bus limits", () => {
  it("reports invalid events and keeps a bounded history", () => {
    const problems: string[] = [];
    const bus = new MemoryBus({ maxEvents: 2, onInvalid: (problem) => problems.push(problem) });
    for (const n of [1, 2, 3]) bus.publish(sampleEvent("admission", n));
    bus.publish({ ...event(), time: "yesterday" });
    assert.deepEqual(
      bus.history().map((e) => e.pod.name),
      ["pod-2", "pod-3"],
    );
    assert.equal(problems.length, 1);
  });
});
