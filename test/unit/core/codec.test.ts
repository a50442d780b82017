import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Annotation,
  decodeNodeDevices,
  decodePodDevices,
  encodeNodeDevices,
  encodePodDevices,
  HamiError,
  type Device,
  type PodDevices,
} from "../../../src/core/index.js";

const devices: Device[] = [
  {
    uuid: "GPU-aaa",
    index: 0,
    type: "NVIDIA-A100-SXM4-80GB",
    memoryMiB: 81920,
    cores: 100,
    splitCount: 10,
    numa: 0,
    healthy: true,
  },
  {
    uuid: "GPU-bbb",
    index: 1,
    type: "Tesla T4",
    memoryMiB: 15360,
    cores: 100,
    splitCount: 4,
    numa: 1,
    healthy: false,
  },
];

describe("codec - node register annotation", () => {
  it("encodes HAMi's UUID,split,mem,cores,type,numa,healthy joined by ':' and decodes it back", () => {
    const raw = encodeNodeDevices(devices);
    assert.equal(
      raw,
      "GPU-aaa,10,81920,100,NVIDIA-A100-SXM4-80GB,0,true:GPU-bbb,4,15360,100,Tesla T4,1,false",
    );
    assert.deepEqual(decodeNodeDevices(raw), devices);
  });

  it("accepts a trailing ':' and an empty annotation", () => {
    assert.equal(decodeNodeDevices(`${encodeNodeDevices(devices)}:`).length, 2);
    assert.deepEqual(decodeNodeDevices(""), []);
  });

  const malformed: [string, string, RegExp][] = [
    ["too few fields", "GPU-a,10,1024,100,T4,0", /has 6 fields, expected 7/],
    ["memory not a number", "GPU-a,10,lots,100,T4,0,true", /memory "lots"/],
    ["split 0", "GPU-a,0,1024,100,T4,0,true", /splitCount "0"/],
    ["health word", "GPU-a,10,1024,100,T4,0,yes", /health "yes"/],
    ["duplicate uuid", "GPU-a,10,1024,100,T4,0,true:GPU-a,10,1024,100,T4,0,true", /listed twice/],
    ["empty uuid", " ,10,1024,100,T4,0,true", /empty uuid/],
  ];
  for (const [name, raw, message] of malformed) {
    it(`rejects ${name} with a HamiError naming the annotation and value`, () => {
      assert.throws(
        () => decodeNodeDevices(raw),
        (error: unknown) =>
          error instanceof HamiError &&
          error.field === `metadata.annotations[${Annotation.nodeRegister}]` &&
          error.value === raw &&
          message.test(error.message),
      );
    });
  }

  it("refuses to encode a type that would break the format", () => {
    assert.throws(() => encodeNodeDevices([{ ...devices[0]!, type: "A100,80GB" }]), HamiError);
  });
});

describe("codec - pod allocation annotations", () => {
  const pod: PodDevices = [
    [{ uuid: "GPU-aaa", type: "NVIDIA", memoryMiB: 3000, cores: 30 }],
    [],
    [
      { uuid: "GPU-aaa", type: "NVIDIA", memoryMiB: 1024, cores: 0 },
      { uuid: "GPU-bbb", type: "NVIDIA", memoryMiB: 1024, cores: 0 },
    ],
  ];

  it("terminates devices with ':' and containers with ';', keeping empty containers", () => {
    const raw = encodePodDevices(pod);
    assert.equal(raw, "GPU-aaa,NVIDIA,3000,30:;;GPU-aaa,NVIDIA,1024,0:GPU-bbb,NVIDIA,1024,0:;");
    assert.deepEqual(decodePodDevices(raw, Annotation.devicesToAllocate), pod);
  });

  it("decodes a value without the last terminator (older writers)", () => {
    assert.deepEqual(decodePodDevices("GPU-aaa,NVIDIA,3000,30", Annotation.devicesAllocated), [
      [{ uuid: "GPU-aaa", type: "NVIDIA", memoryMiB: 3000, cores: 30 }],
    ]);
  });

  for (const raw of [
    "GPU-a,NVIDIA,x,0:;",
    "GPU-a,NVIDIA,10:;",
    ",NVIDIA,10,0:;",
    "GPU-a,NVIDIA,-1,0:;",
  ]) {
    it(`rejects ${JSON.stringify(raw)} naming the annotation`, () => {
      assert.throws(
        () => decodePodDevices(raw, Annotation.devicesToAllocate),
        (error: unknown) =>
          error instanceof HamiError &&
          error.field === `metadata.annotations[${Annotation.devicesToAllocate}]` &&
          /UUID,TYPE,memoryMiB,cores/.test(error.message),
      );
    });
  }
});
