import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  defaultConfig,
  describeNodeSettings,
  nodeSettings,
  parseNodeConfig,
} from "../../../src/config/index.js";

// HAMi chart's example (charts/hami/values.yaml devicePlugin.nodeConfiguration.config).
const HAMI_EXAMPLE = `{
  "nodeconfig": [
    {
      "name": "your-node-name",
      "operatingmode": "hami-core",
      "devicememoryscaling": 1,
      "devicesplitcount": 10,
      "preconfigureddevicememory": 0,
      "enablenumatopology": false,
      "migstrategy": "none",
      "filterdevices": {
        "uuid": [],
        "index": []
      },
      "enablegetpreferredallocation": false
    }
  ]
}`;

describe("config - per-node settings (HAMi's nodeconfig)", () => {
  const cluster = defaultConfig().nvidia;

  it("reads HAMi's own example; keys it does not apply are named, with why", () => {
    const file = parseNodeConfig(HAMI_EXAMPLE, "config.json");
    const s = nodeSettings(cluster, file, "your-node-name");
    assert.deepEqual(s.deviceSplitCount, { value: 10, from: "nodeconfig" });
    assert.deepEqual(s.deviceCoreScaling, { value: 1, from: "config" });
    assert.deepEqual(s.filterDevices, { value: { uuid: [], index: [] }, from: "nodeconfig" });
    assert.deepEqual(s.notes, [
      "nodeconfig preconfigureddevicememory is not applied: memory is read from nvidia-smi",
      "nodeconfig enablenumatopology is not applied: NUMA is registered per GPU and checked by the scheduler",
      "nodeconfig enablegetpreferredallocation is not applied: the kubelet's preferred allocation is always answered",
    ]);
  });

  it("another node keeps the cluster's settings; a duplicate entry, an unknown key and a mig mode are noted", () => {
    const file = parseNodeConfig(
      JSON.stringify({
        nodeconfig: [
          { name: "gpu-1", devicesplitcount: 4, filterdevices: { uuid: ["GPU-b"], index: [3] } },
          { name: "gpu-1", devicesplitcount: 8 },
          { name: "gpu-2", operatingmode: "mig", colour: "red" },
          { name: "gpu-3", operatingmode: "mps" },
        ],
      }),
      "config.json",
    );
    const other = nodeSettings(cluster, file, "gpu-9");
    assert.deepEqual(other.deviceSplitCount, { value: cluster.deviceSplitCount, from: "config" });
    assert.deepEqual(other.notes, []);
    const one = nodeSettings(cluster, file, "gpu-1");
    assert.equal(one.deviceSplitCount.value, 4);
    assert.deepEqual(one.filterDevices.value, { uuid: ["GPU-b"], index: [3] });
    assert.match(one.notes.join(), /2 entries for this node; the first one applies/);
    const two = nodeSettings(cluster, file, "gpu-2");
    assert.match(two.notes.join(), /colour is not a HAMi node setting/);
    assert.doesNotMatch(two.notes.join(), /operatingmode/, "mig is served");
    assert.deepEqual(two.operatingMode, { value: "mig", from: "nodeconfig" });
    const three = nodeSettings(cluster, file, "gpu-3");
    assert.match(three.notes.join(), /operatingmode mps is not served \(hami-core and mig only\)/);
  });

  it("a bad value names the entry, field and problem; garbage is refused", () => {
    assert.throws(
      () => parseNodeConfig('{"nodeconfig":[{"name":"n","devicesplitcount":0}]}', "c.json"),
      /c\.json: nodeconfig\.0\.devicesplitcount: .*>=1/,
    );
    assert.throws(() => parseNodeConfig("{nodeconfig: [", "c.json"), /c\.json: not JSON or YAML/);
    assert.throws(
      () => parseNodeConfig('{"nodeconfig":[{"devicesplitcount":2}]}', "c.json"),
      /nodeconfig\.0\.name/,
    );
    assert.deepEqual(parseNodeConfig("", "c.json"), {});
  });

  it("the published settings read back as one line saying which value won", () => {
    const file = parseNodeConfig(
      '{"nodeconfig":[{"name":"n","devicesplitcount":4,"filterdevices":{"uuid":["GPU-b"],"index":[2]}}]}',
      "c.json",
    );
    const line = describeNodeSettings(JSON.stringify(nodeSettings(cluster, file, "n")));
    assert.equal(
      line,
      "split 4 (nodeconfig), memory x1 (config), cores x1 (config), mode hami-core (config), not registered: GPU-b, index 2 (nodeconfig)",
    );
    assert.equal(describeNodeSettings("not json"), undefined);
    assert.equal(describeNodeSettings('{"deviceSplitCount": 3}'), undefined);
    assert.equal(describeNodeSettings(undefined), undefined);
  });
});
