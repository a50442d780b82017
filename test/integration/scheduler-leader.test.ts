// Extender replicas elect one leader on the Lease hami-extender (real kube-apiserver, real `hami
// scheduler` processes; the pods they label are plain Pod objects, no kubelet). Only the leader
// answers the verbs and carries the hami.io/extender-leader label that the chart's extender
// Service selects; a stopping leader hands over at once, a killed one after its lease expires.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { startExtenderProcess, type RunningExtender } from "../helpers/extender.js";
import { freePort, waitFor } from "../helpers/net.js";
import { pod } from "../helpers/pods.js";

const missing = controlPlaneMissing();
const NAMESPACE = "kube-system";
const LABEL = "hami.io/extender-leader";
const LEASE_SECONDS = 2;

interface Replica {
  name: string;
  port: number;
  run?: RunningExtender;
}

describe("extender leader election (real kube-apiserver)", { skip: missing }, () => {
  let plane: ControlPlane;
  let core: CoreV1Api;
  const replicas: Replica[] = [
    { name: "ext-a", port: 0 },
    { name: "ext-b", port: 0 },
  ];

  const start = async (replica: Replica): Promise<void> => {
    replica.port = await freePort();
    replica.run = await startExtenderProcess(plane, replica.port, [
      `--lease-namespace=${NAMESPACE}`,
      "--leader-elect",
      `--leader-lease-seconds=${LEASE_SECONDS}`,
      `--pod-name=${replica.name}`,
      `--pod-namespace=${NAMESPACE}`,
    ]);
  };
  const filterStatus = async (replica: Replica): Promise<number> =>
    (
      await fetch(`http://127.0.0.1:${replica.port}/filter`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ Pod: pod(), NodeNames: [] }),
      })
    ).status;
  const labelled = async (): Promise<string[]> => {
    const pods = await core.listNamespacedPod({ namespace: NAMESPACE });
    return pods.items
      .filter((p) => p.metadata?.labels?.[LABEL] === "true")
      .map((p) => p.metadata?.name ?? "");
  };
  /** The one replica whose pod is labelled and that answers the verbs; the others answer 503. */
  const soleLeader = async (running: Replica[]): Promise<Replica | undefined> => {
    const names = await labelled();
    if (names.length !== 1) return undefined;
    const statuses = await Promise.all(running.map(filterStatus));
    const leaders = running.filter((_, i) => statuses[i] === 200);
    if (leaders.length !== 1 || leaders[0]?.name !== names[0]) return undefined;
    return statuses.every((s) => s === 200 || s === 503) ? leaders[0] : undefined;
  };

  before(async () => {
    plane = await startControlPlane();
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    for (const replica of replicas) {
      const body = pod({ nodeName: "control-plane" });
      body.metadata = { name: replica.name, namespace: NAMESPACE };
      await core.createNamespacedPod({ namespace: NAMESPACE, body: body as never });
    }
    await Promise.all(replicas.map(start));
  });

  after(async () => {
    for (const replica of replicas) await replica.run?.stop();
    await plane?.stop();
  });

  it("one replica leads: it alone answers the verbs and carries the label", async () => {
    const leader = await waitFor("one leader", () => soleLeader(replicas));
    assert.ok(replicas.includes(leader));
  });

  it("a stopping leader hands over at once; a killed one after its lease expires", async () => {
    const first = await waitFor("one leader", () => soleLeader(replicas));
    const other = replicas.find((r) => r !== first)!;
    const stoppedAt = Date.now();
    await first.run!.stop();
    const second = await waitFor("the other leads", () => soleLeader([other]));
    assert.equal(second, other);
    const handover = Date.now() - stoppedAt;
    assert.deepEqual(await labelled(), [other.name], "the stopped leader removed its label");
    await start(first);
    assert.equal(await filterStatus(first), 503, "a returning replica follows");
    assert.equal(await waitFor("still one leader", () => soleLeader(replicas)), other);
    await other.run!.kill();
    const killedAt = Date.now();
    await waitFor("takeover after expiry", async () =>
      (await filterStatus(first)) === 200 && (await labelled()).includes(first.name)
        ? true
        : undefined,
    );
    const takeover = Date.now() - killedAt;
    // Safety, not speed: nobody leads before the killed leader's lease has run out.
    assert.ok(takeover >= (LEASE_SECONDS * 1000) / 2, `took over after ${takeover} ms`);
    await start(other);
    assert.equal(
      await waitFor("the restarted replica cleared its stale label", () => soleLeader(replicas)),
      first,
    );
    process.stdout.write(`# handover on stop ${handover} ms, takeover after kill ${takeover} ms\n`);
  });
});
