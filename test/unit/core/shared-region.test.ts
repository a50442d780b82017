// HAMi-core's shared region, written here field by field in the order and with the C alignment of
// the public header's declarations (src/multiprocess/multiprocess_memory_limit.h), so the offsets
// are derived again rather than copied from the parser; then read back.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  encodeSharedRegion,
  readSharedRegion,
  SHARED_REGION_BYTES,
  SHARED_REGION_MAGIC,
} from "../../../src/core/index.js";

/** Offsets by the C rules: each field aligned to its own alignment, structs to their largest. */
class Layout {
  offset = 0;
  field(size: number, align: number, count = 1): number {
    this.offset = Math.ceil(this.offset / align) * align;
    const at = this.offset;
    this.offset += size * count;
    return at;
  }
  end(align = 8): number {
    return Math.ceil(this.offset / align) * align;
  }
}

const slot = new Layout();
const S = {
  pid: slot.field(4, 4),
  hostpid: slot.field(4, 4),
  used: slot.field(8 * 8, 8, 16), // device_memory_t: 5 counters + 3 unused
  monitorused: slot.field(8, 8, 16),
  util: slot.field(6 * 8, 8, 16), // device_util_t: dec, enc, sm + 3 unused
  status: slot.field(4, 4),
  seqlock: slot.field(8, 8),
  unused: slot.field(8, 8, 2),
};
const SLOT_BYTES = slot.end();
const region = new Layout();
const R = {
  flag: region.field(4, 4),
  major: region.field(4, 4),
  minor: region.field(4, 4),
  smInit: region.field(4, 4),
  owner: region.field(8, 8),
  sem: region.field(32, 8),
  deviceNum: region.field(8, 8),
  uuids: region.field(96, 1, 16),
  limit: region.field(8, 8, 16),
  smLimit: region.field(8, 8, 16),
  procs: region.field(SLOT_BYTES, 8, 1024),
  procNum: region.field(4, 4),
  utilSwitch: region.field(4, 4),
  recentKernel: region.field(4, 4),
  priority: region.field(4, 4),
  lastKernel: region.field(8, 8),
  semPostinit: region.field(32, 8),
};
const REGION_BYTES = region.end();

interface Proc {
  hostpid: number;
  status: number;
  total: number[];
  sm: number[];
  /** context, module, data (buffer) per device */
  parts?: [number, number, number][];
}

function write(options: {
  uuids: string[];
  limits: number[];
  smLimits: number[];
  procs: Proc[];
  procNum?: number;
  lastKernel?: number;
  version?: [number, number];
}): Buffer {
  const buf = Buffer.alloc(REGION_BYTES);
  buf.writeInt32LE(SHARED_REGION_MAGIC, R.flag);
  const [major, minor] = options.version ?? [1, 2];
  buf.writeUInt32LE(major, R.major);
  buf.writeUInt32LE(minor, R.minor);
  buf.writeBigUInt64LE(BigInt(options.uuids.length), R.deviceNum);
  options.uuids.forEach((u, i) => buf.write(u, R.uuids + i * 96, "ascii"));
  options.limits.forEach((l, i) => buf.writeBigUInt64LE(BigInt(l), R.limit + i * 8));
  options.smLimits.forEach((l, i) => buf.writeBigUInt64LE(BigInt(l), R.smLimit + i * 8));
  options.procs.forEach((p, n) => {
    const at = R.procs + n * SLOT_BYTES;
    buf.writeInt32LE(1000 + n, at + S.pid);
    buf.writeInt32LE(p.hostpid, at + S.hostpid);
    buf.writeInt32LE(p.status, at + S.status);
    p.total.forEach((t, d) => buf.writeBigUInt64LE(BigInt(t), at + S.used + d * 64 + 4 * 8));
    p.sm.forEach((u, d) => buf.writeBigUInt64LE(BigInt(u), at + S.util + d * 48 + 2 * 8));
    p.parts?.forEach((counters, d) => {
      counters.forEach((c, k) => buf.writeBigUInt64LE(BigInt(c), at + S.used + d * 64 + k * 8));
    });
  });
  buf.writeInt32LE(options.procNum ?? options.procs.length, R.procNum);
  buf.writeBigUInt64LE(BigInt(options.lastKernel ?? 0), R.lastKernel);
  return buf;
}

const MiB = 1024 * 1024;
const twoGpus: {
  uuids: string[];
  limits: number[];
  smLimits: number[];
  procs: Proc[];
  lastKernel: number;
} = {
  uuids: ["GPU-aaaa", "GPU-bbbb"],
  limits: [3000 * MiB, 1000 * MiB],
  smLimits: [30, 0],
  procs: [
    {
      hostpid: 4242,
      status: 1,
      total: [100 * MiB, 10 * MiB],
      sm: [12, 0],
      parts: [
        [40 * MiB, 10 * MiB, 50 * MiB],
        [5 * MiB, 0, 5 * MiB],
      ],
    },
    { hostpid: 4343, status: 1, total: [200 * MiB, 0], sm: [5, 3] },
    { hostpid: 4444, status: 0, total: [999 * MiB, 999 * MiB], sm: [90, 90] }, // exited
  ],
  lastKernel: 1_796_000_000,
};

/** A seeded generator (mulberry32), so a failing input can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("core - HAMi-core shared region (format 1.x)", () => {
  it("the header's layout, derived again, has the size the parser expects", () => {
    assert.equal(SLOT_BYTES, 1960);
    assert.equal(REGION_BYTES, SHARED_REGION_BYTES);
  });

  it("two GPUs, three process slots: sums over the live ones, limits and uuids per device", () => {
    const read = readSharedRegion(write(twoGpus));
    assert.deepEqual(read, {
      ok: true,
      region: {
        version: "1.2",
        devices: [
          {
            uuid: "GPU-aaaa",
            limitBytes: 3000 * MiB,
            smLimit: 30,
            usedBytes: 300 * MiB,
            contextBytes: 40 * MiB,
            moduleBytes: 10 * MiB,
            bufferBytes: 50 * MiB,
            smUtil: 17,
          },
          {
            uuid: "GPU-bbbb",
            limitBytes: 1000 * MiB,
            smLimit: 0,
            usedBytes: 10 * MiB,
            contextBytes: 5 * MiB,
            moduleBytes: 0,
            bufferBytes: 5 * MiB,
            smUtil: 3,
          },
        ],
        processes: [4242, 4343],
        lastKernelTime: 1_796_000_000,
      },
    });
  });

  it("format 1.1 has the same offsets; slots past proc_num are not counted", () => {
    const read = readSharedRegion(write({ ...twoGpus, version: [1, 1], procNum: 1 }));
    assert.ok(read.ok);
    assert.equal(read.region.version, "1.1");
    assert.deepEqual(read.region.processes, [4242]);
    assert.equal(read.region.devices[0]?.usedBytes, 100 * MiB);
  });

  it("refuses, with a reason, what it cannot read rightly", () => {
    const file = write(twoGpus);
    const reason = (bytes: Uint8Array) => {
      const read = readSharedRegion(bytes);
      return read.ok ? "read" : read.reason;
    };
    assert.match(reason(file.subarray(0, 4096)), /truncated: 4096 bytes/);
    const foreign = Buffer.from(file);
    foreign.writeInt32LE(7, R.flag);
    assert.match(reason(foreign), /not a HAMi-core shared region \(flag 7\)/);
    assert.match(reason(write({ ...twoGpus, version: [2, 0] })), /format 2\.0 is not read/);
    const tooMany = Buffer.from(file);
    tooMany.writeBigUInt64LE(999n, R.deviceNum);
    assert.match(reason(tooMany), /device count out of range/);
    const badUuid = Buffer.from(file);
    badUuid[R.uuids + 1] = 0x07;
    assert.match(reason(badUuid), /device 0: unreadable uuid/);
    const huge = Buffer.from(file);
    huge.writeBigUInt64LE(2n ** 60n, R.procs + S.used + 4 * 8);
    assert.match(reason(huge), /beyond 2\^53/);
  });

  it("a negative or oversized proc_num is clamped, never read out of bounds", () => {
    assert.deepEqual(readSharedRegion(write({ ...twoGpus, procNum: -5 })).ok, true);
    const clamped = readSharedRegion(write({ ...twoGpus, procNum: 1_000_000 }));
    assert.ok(clamped.ok);
    assert.deepEqual(clamped.region.processes, [4242, 4343]);
  });

  it("the simulated HAMi-core's encoder writes the header's layout, derived again", () => {
    const bytes = Buffer.from(
      encodeSharedRegion({
        devices: [{ uuid: "GPU-cccc", limitBytes: 2048 * MiB, smLimit: 25 }],
        processes: [
          { hostPid: 77, devices: [{ usedBytes: 300 * MiB, bufferBytes: 200 * MiB, smUtil: 9 }] },
        ],
        lastKernelTime: 1_796_000_123,
      }),
    );
    assert.equal(bytes.length, REGION_BYTES);
    assert.equal(bytes.readInt32LE(R.flag), SHARED_REGION_MAGIC);
    assert.deepEqual([bytes.readUInt32LE(R.major), bytes.readUInt32LE(R.minor)], [1, 2]);
    assert.equal(bytes.readBigUInt64LE(R.deviceNum), 1n);
    assert.equal(bytes.toString("ascii", R.uuids, R.uuids + 8), "GPU-cccc");
    assert.equal(bytes.readBigUInt64LE(R.limit), BigInt(2048 * MiB));
    assert.equal(bytes.readBigUInt64LE(R.smLimit), 25n);
    assert.equal(bytes.readInt32LE(R.procNum), 1);
    assert.equal(bytes.readInt32LE(R.procs + S.hostpid), 77);
    assert.equal(bytes.readInt32LE(R.procs + S.status), 1);
    assert.equal(bytes.readBigUInt64LE(R.procs + S.used + 4 * 8), BigInt(300 * MiB));
    assert.equal(bytes.readBigUInt64LE(R.procs + S.used + 2 * 8), BigInt(200 * MiB));
    assert.equal(bytes.readBigUInt64LE(R.procs + S.util + 2 * 8), 9n);
    assert.equal(bytes.readBigUInt64LE(R.lastKernel), 1_796_000_123n);
  });

  it("random bytes, and random damage to a good file: a result or a reason, never a throw", () => {
    const next = random(18);
    const good = write(twoGpus);
    for (let round = 0; round < 200; round++) {
      const bytes =
        round % 2 === 0
          ? Buffer.from(good)
          : Buffer.alloc(Math.floor(next() * SHARED_REGION_BYTES * 1.1));
      if (round % 2 === 1) for (let i = 0; i < bytes.length; i += 97) bytes[i] = next() * 256;
      else
        for (let hits = 0; hits < 64; hits++)
          bytes[Math.floor(next() * 2 * R.procs)] = Math.floor(next() * 256);
      const read = readSharedRegion(bytes);
      assert.ok(read.ok || read.reason.length > 0, `round ${round}`);
      if (read.ok) assert.ok(read.region.devices.length <= 16);
    }
  });
});
