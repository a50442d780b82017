// The real kube-scheduler in the harness: its `hami-scheduler` profile sends a GPU pod through the
// extender (filter, prioritize, bind). The extender here is a test double that accepts every node,
// prefers sim-node-2 and binds through the API; the real extender is the scheduler issue's work.
// The Node objects and their nvidia.com/gpu capacity stand in for kubelets (simulated; none runs).
// On the wire kube-scheduler v1.36 uses Go field names for the extender arguments (Pod, NodeNames,
// PodName, ...), which is what this test pins down for the real extender.

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import express from "express";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { SCHEDULER_NAME, startScheduler, type RunningScheduler } from "../helpers/scheduler.js";

const missing = controlPlaneMissing();
const NODES = ["sim-node-1", "sim-node-2"];

interface FilterArgs {
  Pod: { metadata: { name: string } };
  Nodes: unknown;
  NodeNames: string[];
}

interface BindArgs {
  PodName: string;
  PodNamespace: string;
  PodUID: string;
  Node: string;
}

describe("kube-scheduler with the hami-scheduler profile and extender", { skip: missing }, () => {
  let plane: ControlPlane;
  let scheduler: RunningScheduler;
  let core: CoreV1Api;
  let extender: ReturnType<ReturnType<typeof express>["listen"]>;
  const calls: { verb: string; body: unknown }[] = [];

  async function simulatedNode(name: string): Promise<void> {
    await core.createNode({ body: { metadata: { name, labels: { gpu: "on" } } } });
    const capacity = { cpu: "8", memory: "32Gi", pods: "110", "nvidia.com/gpu": "20" };
    const ready = {
      type: "Ready",
      status: "True",
      reason: "SimulatedKubelet",
      lastHeartbeatTime: new Date(),
      lastTransitionTime: new Date(),
    };
    await core.patchNodeStatus(
      { name, body: { status: { capacity, allocatable: capacity, conditions: [ready] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  before(async () => {
    plane = await startControlPlane();
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    const app = express();
    app.use(express.json({ limit: "4mb" }));
    app.post("/filter", (req, res) => {
      const args = req.body as FilterArgs;
      calls.push({ verb: "filter", body: args });
      res.json({ NodeNames: args.NodeNames, FailedNodes: {}, Error: "" });
    });
    app.post("/prioritize", (req, res) => {
      const args = req.body as FilterArgs;
      calls.push({ verb: "prioritize", body: args });
      res.json(args.NodeNames.map((host) => ({ host, score: host === "sim-node-2" ? 10 : 1 })));
    });
    app.post("/bind", async (req, res) => {
      const args = req.body as BindArgs;
      calls.push({ verb: "bind", body: args });
      await core.createNamespacedPodBinding({
        name: args.PodName,
        namespace: args.PodNamespace,
        body: {
          metadata: { name: args.PodName, uid: args.PodUID },
          target: { kind: "Node", name: args.Node },
        },
      });
      res.json({ Error: "" });
    });
    extender = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => extender.once("listening", resolve));
    scheduler = await startScheduler(
      plane,
      `http://127.0.0.1:${(extender.address() as AddressInfo).port}`,
    );
    for (const node of NODES) await simulatedNode(node);
  });

  after(async () => {
    await scheduler?.stop();
    extender?.close();
    await plane?.stop();
  });

  it("a GPU pod of the hami-scheduler profile goes filter -> prioritize -> bind through the extender", async () => {
    const limits = { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1024" };
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "gpu-pod" },
        spec: {
          schedulerName: SCHEDULER_NAME,
          containers: [{ name: "main", image: "cuda", resources: { limits } }],
        },
      },
    });
    const bound = async () =>
      (await core.readNamespacedPod({ namespace: "default", name: "gpu-pod" })).spec?.nodeName;
    await waitFor("pod bound", async () => (await bound()) !== undefined, 30_000).catch(
      (error: unknown) => {
        throw new Error(
          `${String(error)}\nextender calls: ${JSON.stringify(calls.map((c) => c.verb))}\nscheduler output:\n${scheduler.output()}`,
        );
      },
    );
    assert.equal(await bound(), "sim-node-2", "the extender's priority decided");
    assert.deepEqual(
      calls.map((call) => call.verb),
      ["filter", "prioritize", "bind"],
    );
    const filter = calls[0]?.body as FilterArgs;
    assert.deepEqual([...filter.NodeNames].sort(), NODES, "nodeCacheCapable: node names only");
    assert.equal(filter.Nodes, null);
    assert.equal(filter.Pod.metadata.name, "gpu-pod");
    const bind = calls[2]?.body as BindArgs;
    assert.deepEqual(
      { ...bind, PodUID: "" },
      { PodName: "gpu-pod", PodNamespace: "default", PodUID: "", Node: "sim-node-2" },
    );
  });

  it("a pod asking no managed resource is placed without the extender", async () => {
    const before = calls.length;
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "cpu-pod" },
        spec: { schedulerName: SCHEDULER_NAME, containers: [{ name: "main", image: "busybox" }] },
      },
    });
    await waitFor(
      "cpu pod bound",
      async () =>
        (await core.readNamespacedPod({ namespace: "default", name: "cpu-pod" })).spec?.nodeName !==
        undefined,
      30_000,
    );
    assert.equal(calls.length, before);
  });
});
