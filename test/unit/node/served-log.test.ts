// The served log on a real file system: what a restarted agent finds is exactly the records the
// API never got; damage costs one line, never the rest.

import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ServedLog } from "../../../src/node/served-log.js";
import { createLogger } from "../../../src/telemetry/index.js";

const record = (uid: string, container: number) => ({
  uid,
  namespace: "default",
  name: `pod-${uid}`,
  container,
  annotations: { "hami.io/vgpu-devices-to-allocate": ";" },
});

describe("served log", () => {
  let dir = "";
  const warnings: string[] = [];
  const log = createLogger({ level: "warn" });
  log.warn = (...args: unknown[]) => void warnings.push(String(args.at(-1)));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-served-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("replays the records not marked done, in a new directory the first time", async () => {
    const file = join(dir, "state", "node-a.served.log");
    const first = await ServedLog.open(file, log);
    assert.deepEqual(first.pending, []);
    const a = await first.log.append(record("a", 0));
    const b = await first.log.append(record("b", 0));
    const c = await first.log.append(record("b", 1));
    await first.log.done(b.id);
    await first.log.close();
    const second = await ServedLog.open(file, log);
    assert.deepEqual(
      second.pending.map((r) => [r.id, r.uid, r.container]),
      [
        [a.id, "a", 0],
        [c.id, "b", 1],
      ],
    );
    const fresh = await second.log.append(record("c", 0));
    assert.ok(fresh.id > c.id, "ids keep growing after a restart");
    await second.log.close();
    // Opening rewrote the file with the pending records only.
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    assert.equal(lines.length, 3);
  });

  it("skips a torn, foreign or oversized line with a warning and keeps every other record", async () => {
    const file = join(dir, "damaged.served.log");
    const opened = await ServedLog.open(file, log);
    await opened.log.append(record("x", 0));
    await opened.log.close();
    await appendFile(
      file,
      [
        '{"id": 7, "uid": "y", "namespace": "default", "na', // torn by a crash mid-write
        JSON.stringify({
          id: 8,
          uid: "",
          namespace: "n",
          name: "p",
          container: 0,
          annotations: {},
        }),
        JSON.stringify({ done: "everything" }),
        "x".repeat(70_000),
        JSON.stringify({ ...record("z", 2), id: 9 }),
        "",
      ].join("\n"),
    );
    warnings.length = 0;
    const reopened = await ServedLog.open(file, log);
    assert.deepEqual(
      reopened.pending.map((r) => r.uid),
      ["x", "z"],
    );
    assert.equal(warnings.length, 4);
    await reopened.log.close();
  });

  it("once nothing is pending, a log past 1 MiB is rewritten empty", async () => {
    const file = join(dir, "compact.served.log");
    const opened = await ServedLog.open(file, log);
    const big = { ...record("big", 0), annotations: { "hami.io/note": "x".repeat(30_000) } };
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push((await opened.log.append(big)).id);
    assert.ok((await stat(file)).size > 1024 * 1024);
    for (const id of ids) await opened.log.done(id);
    assert.equal((await stat(file)).size, 0);
    await opened.log.append(record("after", 0));
    await opened.log.close();
    const reopened = await ServedLog.open(file, log);
    assert.deepEqual(
      reopened.pending.map((r) => r.uid),
      ["after"],
    );
    await reopened.log.close();
  });
});
