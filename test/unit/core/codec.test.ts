import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Annotation,
  decodeNodeDevices,
  decodePodDevices,
  encodeNodeDevices,
  encodePodDevices,
  parseDeviceCordon,
  withDeviceCordon,
  HamiError,
  type Device,
  type PodDevices,
} from "../../../src/core/index.js";

// Golden vectors for HAMi's node register annotation, from Project-HAMi/HAMi (HEAD after v2.10.0):
// pkg/device/devices.go DeviceInfo (json keys id, index, count, devmem, devcore, type, numa, mode,
// health, all omitempty) + MarshalNodeDevices; DecodeNodeDevices for the <= v2.7 comma forms.
const devices: Device[] = [
  {
    uuid: "GPU-aaaa",
    index: 0,
    type: "NVIDIA-Tesla T4",
    memoryMiB: 15_360,
    cores: 100,
    splitCount: 10,
    numa: 0,
    mode: "hami-core",
    healthy: true,
  },
  {
    uuid: "GPU-bbbb",
    index: 1,
    type: "NVIDIA GeForce RTX 4090",
    memoryMiB: 24_564,
    cores: 100,
    splitCount: 4,
    numa: 1,
    mode: "hami-core",
    healthy: false,
  },
];

/** HAMi's json.Marshal bytes for `devices`: zero values (index 0, numa 0, health false) omitted. */
const HAMI_JSON =
  '[{"id":"GPU-aaaa","count":10,"devmem":15360,"devcore":100,"type":"NVIDIA-Tesla T4","mode":"hami-core","health":true},' +
  '{"id":"GPU-bbbb","index":1,"count":4,"devmem":24564,"devcore":100,"type":"NVIDIA GeForce RTX 4090","numa":1,"mode":"hami-core"}]';

describe("codec - node register annotation", () => {
  it("encodes HAMi's current JSON byte for byte, and decodes it back", () => {
    assert.equal(encodeNodeDevices(devices), HAMI_JSON);
    assert.deepEqual(decodeNodeDevices(HAMI_JSON), devices);
  });

  it("reads the issue's example as HAMi v2.8+ writes it (numa 0 spelled out)", () => {
    const raw =
      '[{"id":"GPU-aaaa","count":10,"devmem":15360,"devcore":100,"type":"NVIDIA-Tesla T4","numa":0,"mode":"hami-core","health":true}]';
    assert.deepEqual(decodeNodeDevices(raw), [devices[0]]);
  });

  it("escapes <, > and & as Go's encoding/json does", () => {
    const raw = encodeNodeDevices([{ ...devices[0]!, type: "NVIDIA <A&B>" }]);
    assert.match(raw, /"type":"NVIDIA \\u003cA\\u0026B\\u003e"/);
    assert.equal(decodeNodeDevices(raw)[0]?.type, "NVIDIA <A&B>");
  });

  it("reads HAMi <= v2.7's 9-field form (index and mode) and the older 7-field form", () => {
    const nine =
      "GPU-aaaa,10,15360,100,NVIDIA-Tesla T4,0,true,0,hami-core:GPU-bbbb,4,24564,100,NVIDIA GeForce RTX 4090,1,false,1,hami-core:";
    assert.deepEqual(decodeNodeDevices(nine), devices);
    const seven = "GPU-aaaa,10,15360,100,NVIDIA-Tesla T4,0,true:";
    assert.deepEqual(decodeNodeDevices(seven), [devices[0]]);
    assert.equal(decodeNodeDevices("GPU-a,10,1024,100,T4,0,T:")[0]?.healthy, true, "Go bool");
  });

  it("absent JSON fields take Go's zero values; empty and null lists hold no devices", () => {
    assert.deepEqual(decodeNodeDevices('[{"id":"GPU-z"}]'), [
      {
        uuid: "GPU-z",
        index: 0,
        type: "",
        memoryMiB: 0,
        cores: 0,
        splitCount: 0,
        numa: 0,
        mode: "",
        healthy: false,
      },
    ]);
    assert.deepEqual(decodeNodeDevices("[]"), []);
    assert.deepEqual(decodeNodeDevices("null"), []);
    assert.deepEqual(decodeNodeDevices(""), []);
  });

  const malformed: [string, string, RegExp][] = [
    ["too few fields", "GPU-a,10,1024,100,T4,0:", /has 6 fields, expected 7 or 9/],
    ["memory not a number", "GPU-a,10,lots,100,T4,0,true:", /devmem "lots"/],
    ["health word", "GPU-a,10,1024,100,T4,0,yes:", /health "yes"/],
    ["duplicate uuid", "GPU-a,10,1024,100,T4,0,true:GPU-a,10,1024,100,T4,0,true:", /listed twice/],
    ["empty uuid", ",10,1024,100,T4,0,true:", /empty uuid/],
    ["broken JSON", '[{"id":"GPU-a"', /not JSON/],
    ["JSON id missing", '[{"count":10}]', /0\.id/],
    ["JSON count a string", '[{"id":"GPU-a","count":"10"}]', /0\.count/],
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

  it("HAMi's erased forms: ';' and ';;' hold no devices; trailing empty containers are dropped", () => {
    assert.deepEqual(decodePodDevices(";", Annotation.devicesToAllocate), []);
    assert.deepEqual(decodePodDevices(";;", Annotation.devicesToAllocate), []);
    assert.deepEqual(decodePodDevices("GPU-a,NVIDIA,1,0:;;", Annotation.devicesAllocated), [
      [{ uuid: "GPU-a", type: "NVIDIA", memoryMiB: 1, cores: 0 }],
    ]);
    assert.equal(encodePodDevices([[]]), ";");
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

describe("codec - hami.io/device-cordon (HAMi's live per-GPU cordon)", () => {
  it("reads HAMi's comma list: entries trimmed, empties skipped, blank means none", () => {
    assert.deepEqual([...parseDeviceCordon(" GPU-a, ,GPU-b ,")], ["GPU-a", "GPU-b"]);
    assert.equal(parseDeviceCordon("   ").size, 0);
    assert.equal(parseDeviceCordon(undefined).size, 0);
  });

  it("adds and removes one GPU, keeping the others and their order", () => {
    assert.equal(withDeviceCordon("GPU-a", "GPU-b", true), "GPU-a,GPU-b");
    assert.equal(withDeviceCordon("GPU-a,GPU-b", "GPU-a", true), "GPU-a,GPU-b");
    assert.equal(withDeviceCordon("GPU-a, GPU-b", "GPU-a", false), "GPU-b");
    assert.equal(withDeviceCordon("GPU-a", "GPU-a", false), "");
    assert.equal(withDeviceCordon(undefined, "GPU-x", true), "GPU-x");
  });
});
