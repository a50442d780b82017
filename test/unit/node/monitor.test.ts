import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NodeMonitor, type DeviceSource } from "../../../src/node/index.js";
import { createLogger } from "../../../src/telemetry/index.js";

describe("node monitor - sampling", () => {
  it("a slow host query (nvidia-smi hanging) never piles samples up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hami-monitor-unit-"));
    let calls = 0;
    let release: () => void = () => undefined;
    const source: DeviceSource = {
      describe: "slow",
      read: () => Promise.resolve([]),
      topology: () => Promise.resolve(undefined),
      usage: () => {
        calls++;
        return new Promise((resolve) => {
          release = () => {
            resolve([]);
          };
        });
      },
    };
    const monitor = new NodeMonitor({
      node: "n",
      hookPath: () => dir,
      source,
      gpus: () => [],
      pods: () => new Map(),
      log: createLogger({ level: "silent" }),
      drift: { thresholdBytes: 1, holdMs: 1 },
    });
    try {
      monitor.start(5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(calls, 1, "one sample in flight, the ticks meanwhile skipped");
      release();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(calls >= 2, "sampling goes on once it returned");
      assert.ok(monitor.latest !== undefined);
    } finally {
      monitor.stop();
      release();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
