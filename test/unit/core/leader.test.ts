import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leaseStep, type LeaseView } from "../../../src/core/index.js";

const view = (overrides: Partial<LeaseView>): LeaseView => ({
  record: { holder: "b", version: "7" },
  identity: "a",
  observedAtMs: 1_000,
  nowMs: 5_000,
  durationMs: 15_000,
  ...overrides,
});

describe("core - lease leader election step", () => {
  it("creates a missing Lease and renews its own", () => {
    assert.deepEqual(leaseStep(view({ record: undefined })), { kind: "create" });
    assert.deepEqual(leaseStep(view({ record: { holder: "a", version: "7" } })), {
      kind: "renew",
    });
  });

  it("follows another holder until a whole duration passed on its own clock since the last change", () => {
    assert.deepEqual(leaseStep(view({})), { kind: "follow", holder: "b", expiresInMs: 11_000 });
    assert.deepEqual(leaseStep(view({ nowMs: 15_999 })), {
      kind: "follow",
      holder: "b",
      expiresInMs: 1,
    });
    assert.deepEqual(leaseStep(view({ nowMs: 16_000 })), { kind: "take", from: "b" });
  });

  it("takes a released Lease (empty holder) at once", () => {
    assert.deepEqual(leaseStep(view({ record: { holder: "", version: "8" } })), {
      kind: "take",
      from: "",
    });
  });
});
