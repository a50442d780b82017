// The kubelet answers Register before it opens ListAndWatch (pkg/kubelet/cm/devicemanager/plugin/
// v1beta1/handler.go: connectClient returns, then `go runClient`), and knows our devices only from
// ListAndWatch: a pod admitted in between fails ("no healthy devices"). The agent takes its Lease
// (the scheduler's go-ahead) only once the kubelet has listed. Real gRPC over unix sockets; the
// kubelet's Registration service is a minimal stand-in that lists only when the test says so.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Server, type sendUnaryData } from "@grpc/grpc-js";
import pino from "pino";
import {
  bindUnix,
  devicePluginApi,
  devicePluginClient,
  KUBELET_SOCKET,
} from "../../src/node/device-plugin-api.js";
import { DevicePluginServer } from "../../src/node/plugin.js";

describe("device plugin: the kubelet has listed our devices", () => {
  let dir = "";
  let kubelet: Server | undefined;
  let plugin: DevicePluginServer | undefined;
  let registered = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-listed-"));
    kubelet = new Server();
    kubelet.addService(devicePluginApi().registration, {
      Register: (_call: unknown, done: sendUnaryData<unknown>) => {
        registered++;
        done(null, {});
      },
    });
    await bindUnix(kubelet, join(dir, KUBELET_SOCKET));
    plugin = new DevicePluginServer({
      dir,
      socketName: "hami-test.sock",
      resourceName: "nvidia.com/gpu",
      log: pino({ level: "silent" }),
      allocate: () => Promise.reject(new Error("not in this test")),
    });
    await plugin.start();
  });

  after(async () => {
    await plugin?.stop();
    kubelet?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("registered is not listed: listedByKubelet waits for ListAndWatch, and says false at its bound", async () => {
    assert.equal(registered, 1);
    assert.equal(await plugin!.listedByKubelet(300), false);
    const waiting = plugin!.listedByKubelet(10_000);
    const client = devicePluginClient(plugin!.socket);
    const stream = client.listAndWatch();
    stream.on("error", () => undefined); // our own cancel below
    try {
      assert.equal(await waiting, true);
      assert.equal(await plugin!.listedByKubelet(0), true, "stays listed until re-registering");
    } finally {
      stream.cancel();
      client.close();
    }
  });
});
