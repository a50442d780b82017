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
const pod = (
  name: string,
  container: string,
  ids: string[],
  resource = "nvidia.com/gpu",
): ListedPod => ({
  namespace: "team",
  name,
  containers: [{ name: container, devices: [{ resource_name: resource, device_ids: ids }] }],
});

describe("core - allocation check against the kubelet's PodResources listing", () => {
  it("matches when the served container holds every ID", () => {
    const listing = [pod("b", "cuda", ["GPU-0-2"]), pod("a", "cuda", ["GPU-1-1", "GPU-0-1"])];
    assert.deepEqual(checkServed(served, listing), { kind: "match" });
  });

  it("is pending while the kubelet lists none or only some of the IDs", () => {
    assert.deepEqual(checkServed(served, []), { kind: "pending" });
    assert.deepEqual(checkServed(served, [pod("a", "cuda", ["GPU-0-1"])]), { kind: "pending" });
  });

  it("IDs the agent itself served to another container later were given again after this pod ended", () => {
    // Found on the real node: a 50-pod burst of short pods; burst-9 ended before its check, and
    // the kubelet gave its device to burst-49, which the agent served next. Not a mismatch.
    const listing = [pod("b", "cuda", ["GPU-0-1"]), pod("c", "cuda", ["GPU-1-1"])];
    const laterB = (holder: { name: string }, ids: readonly string[]) =>
      holder.name === "b" && ids.includes("GPU-0-1");
    assert.deepEqual(checkServed(served, listing, laterB), {
      kind: "mismatch",
      holders: [{ namespace: "team", name: "c", container: "cuda" }],
    });
    const laterBoth = (holder: { name: string }) => holder.name === "b" || holder.name === "c";
    assert.deepEqual(checkServed(served, listing, laterBoth), {
      kind: "reissued",
      holders: [
        { namespace: "team", name: "b", container: "cuda" },
        { namespace: "team", name: "c", container: "cuda" },
      ],
    });
  });

  it("names every other pod or container holding an ID: a mismatch", () => {
    const listing = [pod("b", "cuda", ["GPU-0-1", "GPU-1-1"]), pod("a", "other", ["GPU-9"])];
    assert.deepEqual(checkServed(served, listing), {
      kind: "mismatch",
      holders: [{ namespace: "team", name: "b", container: "cuda" }],
    });
  });

  it("another container of the same pod may list the IDs too (init containers' devices are reused)", () => {
    const reused = {
      namespace: "team",
      name: "a",
      containers: [
        {
          name: "init",
          devices: [{ resource_name: "nvidia.com/gpu", device_ids: ["GPU-0-1", "GPU-1-1"] }],
        },
        {
          name: "cuda",
          devices: [{ resource_name: "nvidia.com/gpu", device_ids: ["GPU-0-1", "GPU-1-1"] }],
        },
      ],
    };
    assert.deepEqual(checkServed(served, [reused]), { kind: "match" });
  });

  it("ignores the same IDs under another resource name", () => {
    assert.deepEqual(checkServed(served, [pod("b", "cuda", ["GPU-0-1"], "example.com/other")]), {
      kind: "pending",
    });
  });
});
