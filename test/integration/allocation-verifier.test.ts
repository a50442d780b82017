// The node agent's check of each Allocate answer against the kubelet's PodResources API, over real
// gRPC on a unix socket, served by the SIMULATED kubelet's PodResources (no real kubelet). It reads
// the served pod with Get and never calls List (the real kubelet's List frees devices of an
// Allocate in flight: see real-node.test.ts). Found on the real node: in a burst of short pods,
// burst-9 ended before its check ran and the kubelet gave its device to burst-49; reading the whole
// node, the check took that for a mismatch.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ServedContainer } from "../../src/core/index.js";
import { SimulatedPodResources } from "../../src/local/simulated-pod-resources.js";
import { AllocationVerifier, type Found, type VerifyResult } from "../../src/node/verify.js";
import { createLogger } from "../../src/telemetry/index.js";
import { waitFor } from "../helpers/net.js";

const RESOURCE = "nvidia.com/gpu";
const answer = (name: string, ids: string[]): ServedContainer => ({
  namespace: "default",
  name,
  container: "main",
  resource: RESOURCE,
  deviceIds: ids,
});

describe("allocation verifier (real gRPC, simulated kubelet PodResources)", () => {
  let dir: string;
  let podResources: SimulatedPodResources;
  let verifier: AllocationVerifier;
  const results = new Map<string, { result: VerifyResult; found?: Found }>();
  const hold = (name: string, ids: string[]) => {
    podResources.record(
      { uid: `uid-${name}`, namespace: "default", name },
      { name: "main", listed: true },
      RESOURCE,
      ids,
    );
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-verifier-"));
    podResources = new SimulatedPodResources(join(dir, "kubelet.sock"));
    await podResources.start();
    verifier = new AllocationVerifier({
      socket: podResources.socket,
      log: createLogger({ level: "silent" }),
      delaysMs: [100, 100],
      onResult: (served, result, found) => {
        results.set(served.name, found === undefined ? { result } : { result, found });
        return Promise.resolve();
      },
    });
  });

  after(async () => {
    await verifier.close();
    await podResources.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a device given again, after its pod ended, to a container the agent served next: no mismatch", async () => {
    verifier.check(answer("burst-9", ["GPU-1-10"]));
    verifier.check(answer("burst-49", ["GPU-1-10"]));
    // By the time the kubelet is asked, burst-9 has ended and burst-49 holds the device.
    hold("burst-49", ["GPU-1-10"]);
    await waitFor("both checked", () => (results.size === 2 ? true : undefined));
    assert.deepEqual(results.get("burst-9"), { result: "unverified" });
    assert.deepEqual(results.get("burst-49"), { result: "match" });
    assert.equal(podResources.calls.List, 0, "the whole node is never listed");
  });

  it("a container holding other IDs than answered for it is a mismatch naming whose answer it got", async () => {
    results.clear();
    // The kubelet admitted swap-b first: the agent's first answer (for swap-a) went to swap-b.
    verifier.check(answer("swap-a", ["GPU-2-1"]));
    verifier.check(answer("swap-b", ["GPU-2-2"]));
    hold("swap-b", ["GPU-2-1"]);
    hold("swap-a", ["GPU-2-2"]);
    hold("two-ids", ["GPU-3-1"]);
    verifier.check(answer("two-ids", ["GPU-3-1", "GPU-3-2"]));
    await waitFor("all checked", () => (results.size === 3 ? true : undefined));
    const of = (name: string) => ({ namespace: "default", name, container: "main" });
    assert.deepEqual(results.get("swap-a"), {
      result: "mismatch",
      found: { held: ["GPU-2-2"], answeredFor: of("swap-b") },
    });
    assert.deepEqual(results.get("swap-b"), {
      result: "mismatch",
      found: { held: ["GPU-2-1"], answeredFor: of("swap-a") },
    });
    assert.deepEqual(results.get("two-ids"), {
      result: "mismatch",
      found: { held: ["GPU-3-1"], answeredFor: of("two-ids") },
    });
    assert.equal(podResources.calls.List, 0);
  });

  it(
    "close() does not wait out the pauses between reads (a shutting-down agent stops at once)",
    { timeout: 10_000 },
    async () => {
      const patient = new AllocationVerifier({
        socket: podResources.socket,
        log: createLogger({ level: "silent" }),
        delaysMs: [20, 600_000],
        onResult: () => Promise.resolve(),
      });
      patient.check(answer("never-allocated", ["GPU-9-9"]));
      await waitFor("the first read done", () => (podResources.calls.Get > 0 ? true : undefined));
      await patient.close();
    },
  );
});
