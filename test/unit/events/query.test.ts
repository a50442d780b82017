import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatRow,
  matchesQuery,
  parsePodRef,
  parseSince,
  QueryError,
  subjectFilterFor,
} from "../../../src/events/index.js";
import { sampleEvent } from "../../helpers/bus-contract.js";

const NOW = new Date("2026-06-01T12:00:00Z");

describe("events query - parsing", () => {
  const durations: [string, string][] = [
    ["90s", "2026-06-01T11:58:30.000Z"],
    ["15m", "2026-06-01T11:45:00.000Z"],
    ["1h", "2026-06-01T11:00:00.000Z"],
    ["7d", "2026-05-25T12:00:00.000Z"],
    ["2026-05-31T00:00:00Z", "2026-05-31T00:00:00.000Z"],
  ];
  for (const [raw, expected] of durations) {
    it(`--since ${raw}`, () => {
      assert.equal(parseSince(raw, NOW).toISOString(), expected);
    });
  }
  for (const raw of ["1w", "yesterday", "-1h", "12"]) {
    it(`--since ${raw} is refused with a hint`, () => {
      assert.throws(
        () => parseSince(raw, NOW),
        (error: unknown) => error instanceof QueryError && error.message.includes(`--since=${raw}`),
      );
    });
  }
  it("--pod needs NAMESPACE/NAME", () => {
    assert.deepEqual(parsePodRef("ns/p"), { namespace: "ns", name: "p" });
    assert.throws(() => parsePodRef("p"), QueryError);
    assert.throws(() => parsePodRef("a/b/c"), QueryError);
  });
});

describe("events query - filters", () => {
  it("narrows the subject where the layout allows", () => {
    assert.equal(subjectFilterFor({}), ">");
    assert.equal(subjectFilterFor({ type: "admission", namespace: "team-a" }), "admission.team-a");
    assert.equal(
      subjectFilterFor({ type: "admission", pod: { namespace: "ns", name: "p" } }),
      "admission.ns",
    );
    assert.equal(
      subjectFilterFor({ type: "allocation", node: "gpu-1.example" }),
      "allocation.gpu-1_example",
    );
    assert.equal(subjectFilterFor({ type: "released" }), "released.*");
    assert.equal(subjectFilterFor({ node: "n1" }), ">");
  });

  it("matches on every given criterion", () => {
    const event = sampleEvent("allocation", 7, "gpu-1");
    assert.ok(matchesQuery(event, {}));
    assert.ok(
      matchesQuery(event, {
        type: "allocation",
        node: "gpu-1",
        namespace: "ns",
        pod: { namespace: "ns", name: "pod-7" },
      }),
    );
    assert.ok(!matchesQuery(event, { node: "gpu-2" }));
    assert.ok(!matchesQuery(event, { namespace: "other" }));
    assert.ok(!matchesQuery(event, { pod: { namespace: "ns", name: "pod-8" } }));
    assert.ok(!matchesQuery(event, { type: "released" }));
  });

  it("a row shows time, type, pod, node, devices and reason", () => {
    const row = formatRow({ ...sampleEvent("allocation", 7, "gpu-1"), reason: "placed" });
    assert.match(
      row,
      /^2026-01-01T00:00:00\.007Z +allocation +ns\/pod-7 +gpu-1 +main:GPU-1\(1024MiB,30%\) +placed$/,
    );
  });
});
