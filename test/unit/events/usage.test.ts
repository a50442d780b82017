// The usage board while NATS is unreachable: only the newest sample waits (samples every 10 s for
// hours must not pile up), and it is the one published once the connection comes. The connection
// here is a stand-in object (no server): only what the board calls on it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NatsConnection } from "nats";
import type { NodeUsage } from "../../../src/core/index.js";
import { NatsUsageBoard, readUsage } from "../../../src/events/index.js";
import { createLogger } from "../../../src/telemetry/index.js";

const sample = (tracked: number): NodeUsage => ({
  node: "gpu-1",
  time: new Date(Date.UTC(2026, 10, 30, 10, 0, tracked)).toISOString(),
  orphans: 0,
  gpus: [{ uuid: "GPU-1", index: 0, type: "NVIDIA-T4", trackedBytes: tracked, containers: 0 }],
  containers: [],
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("events - live usage board", () => {
  it("while not connected only each node's newest sample waits; it alone is published on connect", async () => {
    const published: { subject: string; data: string }[] = [];
    const nc = {
      isClosed: () => false,
      publish: (subject: string, data: string) => void published.push({ subject, data }),
      jetstreamManager: () =>
        Promise.resolve({
          streams: { info: () => Promise.resolve({}), update: () => Promise.resolve({}) },
        }),
    } as unknown as NatsConnection;
    let connect: (value: NatsConnection) => void = () => undefined;
    const connected = new Promise<NatsConnection>((resolve) => {
      connect = resolve;
    });
    const board = new NatsUsageBoard(() => connected, createLogger({ level: "silent" }));
    for (let i = 1; i <= 500; i++) board.publish(sample(i));
    board.publish({ ...sample(9), node: "gpu-2" });
    connect(nc);
    await until(() => published.length > 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(
      published.map((p) => p.subject),
      ["hami.usage.gpu-1", "hami.usage.gpu-2"],
    );
    const read = readUsage(JSON.parse(published[0]?.data ?? ""), "hami.usage.gpu-1");
    assert.ok("usage" in read);
    assert.equal(read.usage.gpus[0]?.trackedBytes, 500);
    board.publish(sample(501));
    await until(() => published.length > 2);
    assert.equal(published.length, 3, "connected: each new sample goes out");
  });

  it("a sample naming another node than its subject is refused", () => {
    const read = readUsage(sample(1), "hami.usage.gpu-2");
    assert.ok("problem" in read);
    assert.match(read.problem, /sample of node gpu-1 on hami\.usage\.gpu-2/);
  });
});
