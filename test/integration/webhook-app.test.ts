// The express app through supertest: admission routes, error answers, health, metrics, events.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import request from "supertest";
import { container, pod, review } from "../helpers/pods.js";
import { webhookApp } from "../helpers/webhook.js";

function decodePatch(patch: string): { op: string; path: string; value?: unknown }[] {
  return JSON.parse(Buffer.from(patch, "base64").toString("utf8")) as {
    op: string;
    path: string;
  }[];
}

describe("webhook app - admission", () => {
  for (const path of ["/mutate", "/webhook"]) {
    it(`POST ${path} answers an AdmissionReview with a JSON patch`, async () => {
      const { app } = webhookApp();
      const res = await request(app).post(path).send(review(pod(), "uid-7")).expect(200);
      assert.equal(res.body.apiVersion, "admission.k8s.io/v1");
      assert.equal(res.body.kind, "AdmissionReview");
      assert.equal(res.body.response.uid, "uid-7");
      assert.equal(res.body.response.allowed, true);
      const ops = decodePatch(res.body.response.patch as string);
      assert.ok(
        ops.some((op) => op.path === "/spec/schedulerName" && op.value === "hami-scheduler"),
      );
    });
  }

  it("a denial is a 200 AdmissionReview with allowed=false and the reason", async () => {
    const { app } = webhookApp();
    const input = pod({
      containers: [
        container("main", { "nvidia.com/gpu": "1" }, { securityContext: { privileged: true } }),
      ],
    });
    const res = await request(app).post("/mutate").send(review(input)).expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 403);
    assert.match(res.body.response.status.message as string, /^\[PrivilegedContainer\]/);
  });

  it("a malformed pod inside a valid envelope is denied naming the field", async () => {
    const { app } = webhookApp();
    const bad = {
      metadata: { name: "x" },
      spec: { containers: [{ name: "c", resources: { limits: { "nvidia.com/gpu": true } } }] },
    };
    const res = await request(app).post("/mutate").send(review(bad)).expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 400);
    assert.match(
      res.body.response.status.message as string,
      /request\.object\.spec\.containers\.0\.resources\.limits\.nvidia\.com\/gpu=true/,
    );
  });

  it("hostile input never gives a 5xx, and is never echoed whole into the answer", async () => {
    const { app } = webhookApp();
    // 5,000 levels, written as text: JSON.stringify (and supertest) would give up on the object.
    const deep = `${'{"a":'.repeat(5000)}{}${"}".repeat(5000)}`;
    const json = (body: string) =>
      request(app).post("/mutate").set("content-type", "application/json").send(body);
    const envelope = JSON.stringify({ ...review(pod()), request: "DEEP" }).replace('"DEEP"', deep);
    assert.equal((await json(envelope)).status, 400);
    const deepPod = pod();
    deepPod.spec.containers[0]!.resources = { limits: { deep: "DEEP" } };
    const inPod = await json(JSON.stringify(review(deepPod)).replace('"DEEP"', deep)).expect(200);
    assert.equal(inPod.body.response.allowed, false);
    assert.ok(JSON.stringify(inPod.body).length < 2_000, "deep value cut in the message");
    const label = "x".repeat(4 * 1024 * 1024 - 4096);
    const privileged = pod({
      labels: { team: label },
      annotations: { "hami.io/node-scheduler-policy": label },
      containers: [
        container("main", { "nvidia.com/gpu": "1" }, { securityContext: { privileged: true } }),
      ],
    });
    const big = await request(app).post("/mutate").send(review(privileged));
    assert.ok(big.status === 200 || big.status === 413, String(big.status));
    assert.ok(JSON.stringify(big.body).length < 4_000, "a 4 MB value is not echoed");
    const policy = pod({ annotations: { "hami.io/node-scheduler-policy": "y".repeat(100_000) } });
    const warned = await request(app).post("/mutate").send(review(policy)).expect(200);
    assert.ok(
      (warned.body.response.warnings as string[]).every((w) => w.length < 400),
      "warnings cut the value and say its size",
    );
  });

  const badBodies: [string, string | object, number, RegExp][] = [
    ["malformed JSON", "{not json", 400, /JSON/],
    [
      "wrong apiVersion",
      { ...review(pod()), apiVersion: "admission.k8s.io/v1beta1" },
      400,
      /apiVersion="admission.k8s.io\/v1beta1"/,
    ],
    ["wrong kind", { ...review(pod()), kind: "Pod" }, 400, /kind="Pod"/],
    [
      "no request",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" },
      400,
      /request=missing/,
    ],
    ["a JSON array", [1, 2], 400, /\(root\)/],
  ];
  for (const [name, body, status, problem] of badBodies) {
    it(`${name} answers a clear ${status}`, async () => {
      const { app } = webhookApp();
      const req = request(app).post("/mutate").set("content-type", "application/json");
      const res = await req
        .send(typeof body === "string" ? body : JSON.stringify(body))
        .expect(status);
      const answer = res.body as { error: string; problems?: string[] };
      assert.match([answer.error, ...(answer.problems ?? [])].join("\n"), problem);
    });
  }

  it("a body that is not JSON by content-type answers 415", async () => {
    const { app } = webhookApp();
    const res = await request(app)
      .post("/mutate")
      .set("content-type", "text/plain")
      .send("hello")
      .expect(415);
    assert.match(res.body.error as string, /content-type text\/plain is not application\/json/);
  });

  it("a body over 4 MiB is refused with 413 and the server keeps serving", async () => {
    const { app } = webhookApp();
    const huge = review({ ...pod(), padding: "x".repeat(4 * 1024 * 1024 + 10) });
    await request(app).post("/mutate").send(huge).expect(413);
    await request(app).post("/mutate").send(review(pod())).expect(200);
  });
});

describe("webhook app - events", () => {
  it("publishes one admission event per mutated or denied pod, none for skips or dry runs", async () => {
    const { app, bus } = webhookApp();
    await request(app).post("/mutate").send(review(pod(), "u-mutate")).expect(200);
    await request(app)
      .post("/mutate")
      .send(review(pod({ nodeName: "n" }), "u-deny"))
      .expect(200);
    await request(app)
      .post("/mutate")
      .send(review(pod({ containers: [container("cpu")] }), "u-skip"))
      .expect(200);
    await request(app)
      .post("/mutate")
      .send(review(pod(), "u-dry", { dryRun: true }))
      .expect(200);
    const events = bus.history();
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.pod.name, e.pod.namespace]),
      [
        ["admission", "mutated", "gpu-pod", "default"],
        ["admission", "denied: NodeNameSet", "gpu-pod", "default"],
      ],
    );
    assert.equal(events[0]?.time, "2026-01-01T00:00:00.000Z");
    assert.ok(events[0]?.changes?.includes("schedulerName=hami-scheduler"));
  });
});

describe("webhook app - health and metrics", () => {
  it("/healthz is 200; /readyz follows readiness", async () => {
    let ready = false;
    const { app } = webhookApp({ ready: () => ready });
    await request(app).get("/healthz").expect(200);
    await request(app).get("/readyz").expect(503);
    ready = true;
    await request(app).get("/readyz").expect(200);
  });

  it("/metrics counts requests by decision, denials by reason, and latency", async () => {
    const { app } = webhookApp();
    await request(app).post("/mutate").send(review(pod())).expect(200);
    await request(app)
      .post("/mutate")
      .send(
        review(pod({ containers: [container("m", { "nvidia.com/gpumem-percentage": "900" })] })),
      )
      .expect(200);
    await request(app)
      .post("/mutate")
      .send("{")
      .set("content-type", "application/json")
      .expect(400);
    const res = await request(app).get("/metrics").expect(200);
    const text = res.text;
    assert.match(text, /hami_webhook_requests_total\{decision="mutate"\} 1/);
    assert.match(text, /hami_webhook_requests_total\{decision="deny"\} 1/);
    assert.match(text, /hami_webhook_denials_total\{reason="InvalidGPUMemoryPercentage"\} 1/);
    assert.match(text, /hami_webhook_latency_seconds_count\{decision="allowed"\} 1/);
    assert.match(text, /hami_webhook_requests_total\{decision="error"\} 1/);
  });
});

describe("webhook app - shipped examples", () => {
  it("examples/admission-review.json is mutated as the README describes", async () => {
    const { readFile } = await import("node:fs/promises");
    const body = JSON.parse(
      await readFile(new URL("../../examples/admission-review.json", import.meta.url), "utf8"),
    );
    const { app } = webhookApp();
    const res = await request(app).post("/mutate").send(body).expect(200);
    assert.equal(res.body.response.allowed, true);
    const ops = decodePatch(res.body.response.patch as string);
    assert.deepEqual(
      ops.map((op) => op.path),
      ["/spec/schedulerName", "/metadata/annotations/hami.io~1webhook-changes"],
    );
  });
});
