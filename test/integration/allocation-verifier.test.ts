// The node agent's check of each Allocate answer against the kubelet's PodResources API, over real
// gRPC on a unix socket, served by the SIMULATED kubelet's PodResources (no real kubelet). Found on
// the real node: in a burst of short pods, burst-9 ended before its check ran and the kubelet gave
// its device to burst-49, which the agent served next; the check reported a mismatch that was none.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Holder, ServedContainer } from "../../src/core/index.js";
import { SimulatedPodResources } from "../../src/local/simulated-pod-resources.js";
import { AllocationVerifier, type VerifyResult } from "../../src/node/verify.js";
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
  const results = new Map<string, { result: VerifyResult; holders: Holder[] }>();
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
      onResult: (served, result, holders) => {
        results.set(served.name, { result, holders });
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
    assert.deepEqual(results.get("burst-9"), { result: "unverified", holders: [] });
    assert.deepEqual(results.get("burst-49"), { result: "match", holders: [] });
  });

  it("a container the agent never served those IDs (or served them before) is a mismatch", async () => {
    results.clear();
    verifier.check(answer("early", ["GPU-2-1"]));
    verifier.check(answer("late", ["GPU-2-1"]));
    hold("early", ["GPU-2-1"]);
    hold("stranger", ["GPU-3-1"]);
    verifier.check(answer("mine", ["GPU-3-1"]));
    await waitFor("all checked", () => (results.size === 3 ? true : undefined));
    const holder = (name: string) => ({ namespace: "default", name, container: "main" });
    assert.deepEqual(results.get("late"), { result: "mismatch", holders: [holder("early")] });
    assert.deepEqual(results.get("mine"), { result: "mismatch", holders: [holder("stranger")] });
    assert.equal(results.get("early")?.result, "match");
  });
});
