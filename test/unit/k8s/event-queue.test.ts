import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventQueue, EventQueueFull } from "../../../src/k8s/index.js";

/** A write that finishes when the test says so. */
function gate(): { write: () => Promise<void>; open: () => void; started: () => boolean } {
  let release = (): void => undefined;
  let began = false;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    write: () => {
      began = true;
      return done;
    },
    open: () => {
      release();
    },
    started: () => began,
  };
}

describe("EventQueue", () => {
  it("writes one Event at a time, in the order recorded", async () => {
    const queue = new EventQueue({ capacity: 10 });
    const first = gate();
    const order: number[] = [];
    const a = queue.push(first.write);
    const b = queue.push(() => {
      order.push(2);
      return Promise.resolve();
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(first.started());
    assert.deepEqual(order, [], "the second waits for the first");
    first.open();
    await Promise.all([a, b]);
    assert.deepEqual(order, [2]);
  });

  it("a full queue drops the newest with EventQueueFull; a failed write rejects only its own", async () => {
    const queue = new EventQueue({ capacity: 1 });
    const first = gate();
    // One being written, one waiting: the queue holds one waiting Event.
    const kept = [queue.push(first.write), queue.push(() => Promise.reject(new Error("403")))];
    await assert.rejects(
      queue.push(() => Promise.resolve()),
      EventQueueFull,
    );
    first.open();
    const [ok, failed] = await Promise.allSettled(kept);
    assert.equal(ok?.status, "fulfilled");
    assert.equal(failed?.status, "rejected");
    await queue.push(() => Promise.resolve());
  });

  it("drains thousands without growing: each settles once", async () => {
    const queue = new EventQueue({ capacity: 5_000 });
    let written = 0;
    const write = (): Promise<void> => {
      written++;
      return Promise.resolve();
    };
    await Promise.all(Array.from({ length: 4_000 }, () => queue.push(write)));
    assert.equal(written, 4_000);
  });
});
