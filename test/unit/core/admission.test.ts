import assert from "node:assert/strict";
import { describe, it } from "node:test";
import jsonPatch, { type Operation } from "fast-json-patch";
import { admit, type AdmissionRequest, type Pod } from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

function request(object: Pod | undefined, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: "uid-1",
    kind: { group: "", version: "v1", kind: "Pod" },
    operation: "CREATE",
    namespace: "default",
    object,
    ...extra,
  };
}

function decodePatch(patch: string | undefined): Operation[] {
  assert.ok(patch !== undefined);
  return JSON.parse(Buffer.from(patch, "base64").toString("utf8")) as Operation[];
}

describe("admission - responses", () => {
  it("the JSON patch turns the received pod into the mutated pod, touching only what changed", () => {
    const input = pod({ annotations: { keep: "me" } });
    const { response, decision } = admit(request(input), policy());
    assert.equal(response.uid, "uid-1");
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, "JSONPatch");
    const operations = decodePatch(response.patch);
    const patched = jsonPatch.applyPatch(structuredClone(input), operations).newDocument;
    assert.ok(decision.kind === "mutate");
    assert.deepEqual(patched, decision.pod);
    assert.ok(
      operations.every(
        (op) => op.path.startsWith("/spec/") || op.path.startsWith("/metadata/annotations/"),
      ),
    );
    assert.ok(
      operations.some(
        (op) => op.path === "/spec/containers/0/resources/limits/nvidia.com~1gpucores",
      ),
    );
  });

  it("changes are listed as warnings for kubectl users", () => {
    const { response } = admit(request(pod()), policy());
    assert.deepEqual(response.warnings, [
      "hami: container main: nvidia.com/gpumem-percentage=100 (defaultMemory 0 = whole GPU)",
      "hami: container main: nvidia.com/gpucores=100 (no cores and whole-GPU or no memory: exclusive)",
      "hami: schedulerName=hami-scheduler",
    ]);
  });

  it("a denial is allowed=false with a 400 status naming the reason, field and value", () => {
    const input = pod({
      containers: [container("main", { "nvidia.com/gpumem-percentage": "150" })],
    });
    const { response } = admit(request(input), policy());
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 400);
    assert.equal(response.status?.reason, "BadRequest");
    assert.equal(
      response.status?.message,
      '[InvalidGPUMemoryPercentage] spec.containers[0].resources.limits[nvidia.com/gpumem-percentage]="150": GPU memory percentage must be an integer 0..100',
    );
    assert.equal(response.patch, undefined);
  });

  it("a policy denial is 403 Forbidden", () => {
    const { response } = admit(request(pod({ nodeName: "n1" })), policy());
    assert.equal(response.status?.code, 403);
    assert.equal(response.status?.reason, "Forbidden");
  });

  it("a skipped pod is allowed with no patch and no warnings", () => {
    const { response } = admit(request(pod({ containers: [container("main")] })), policy());
    assert.deepEqual(response, { uid: "uid-1", allowed: true });
  });

  it("updates, other kinds and requests without an object are allowed untouched", () => {
    for (const extra of [
      { operation: "UPDATE" },
      { kind: { group: "apps", version: "v1", kind: "Deployment" } },
      { object: undefined },
    ] as Partial<AdmissionRequest>[]) {
      const { response, decision } = admit(request(pod(), extra), policy());
      assert.deepEqual(response, { uid: "uid-1", allowed: true });
      assert.equal(decision.kind === "skip" ? decision.reason : "", "NotPodCreate");
    }
  });
});
