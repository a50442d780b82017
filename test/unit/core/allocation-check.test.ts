import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkServed, type ListedPod, type ServedContainer } from "../../../src/core/index.js";

const served: ServedContainer = {
  namespace: "team",
  name: "a",
  container: "cuda",
  resource: "nvidia.com/gpu",
  deviceIds: ["GPU-0-1", "GPU-1-1"],
};
const pod = (containers: Record<string, string[]>, resource = "nvidia.com/gpu"): ListedPod => ({
  namespace: "team",
  name: "a",
  containers: Object.entries(containers).map(([name, ids]) => ({
    name,
    devices: [{ resource_name: resource, device_ids: ids }],
  })),
});

describe("core - allocation check against the kubelet's PodResources Get of the served pod", () => {
  it("matches when the served container holds every ID answered for it", () => {
    assert.deepEqual(checkServed(served, pod({ cuda: ["GPU-1-1", "GPU-0-1"] })), {
      kind: "match",
    });
  });

  it("is pending while the kubelet lists no device of the resource for the container", () => {
    assert.deepEqual(checkServed(served, pod({})), { kind: "pending" });
    assert.deepEqual(checkServed(served, pod({ cuda: [] })), { kind: "pending" });
    assert.deepEqual(checkServed(served, pod({ other: ["GPU-0-1", "GPU-1-1"] })), {
      kind: "pending",
    });
  });

  it("other IDs for the container are a mismatch: it runs with the answer given for those", () => {
    assert.deepEqual(checkServed(served, pod({ cuda: ["GPU-0-2", "GPU-1-2"] })), {
      kind: "mismatch",
      held: ["GPU-0-2", "GPU-1-2"],
    });
    assert.deepEqual(checkServed(served, pod({ cuda: ["GPU-0-1"] })), {
      kind: "mismatch",
      held: ["GPU-0-1"],
    });
  });

  it("the served container lists exactly the IDs answered, whatever its init containers hold", () => {
    const reused = pod({ init: ["GPU-0-1"], cuda: ["GPU-0-1", "GPU-1-1"] });
    assert.deepEqual(checkServed(served, reused), { kind: "match" });
    assert.deepEqual(checkServed(served, pod({ cuda: ["GPU-0-1", "GPU-1-1", "GPU-0-3"] })), {
      kind: "mismatch",
      held: ["GPU-0-1", "GPU-1-1", "GPU-0-3"],
    });
  });

  it("ignores the same IDs under another resource name", () => {
    assert.deepEqual(
      checkServed(served, pod({ cuda: ["GPU-0-1", "GPU-1-1"] }, "example.com/other")),
      { kind: "pending" },
    );
  });
});
