import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { parse } from "yaml";
import { forRealNode, parseEnvLines } from "../../../src/local/index.js";

const EXAMPLES = resolve(import.meta.dirname, "../../../examples/pods");

describe("local mode on a real node - the examples", () => {
  it("every container and init container runs the node's image, never pulled, printing its GPU env", () => {
    const pod: V1Pod = {
      metadata: { name: "p" },
      spec: {
        initContainers: [{ name: "i", image: "cuda:12", args: ["x"] }],
        containers: [
          { name: "a", image: "cuda:12", resources: { limits: { "nvidia.com/gpu": "1" } } },
        ],
      },
    };
    const out = forRealNode(pod, "hami.local/busybox:1");
    for (const c of [...(out.spec?.initContainers ?? []), ...(out.spec?.containers ?? [])]) {
      assert.equal(c.image, "hami.local/busybox:1");
      assert.equal(c.imagePullPolicy, "Never");
      assert.deepEqual(c.args, []);
      assert.match(c.command?.[2] ?? "", /^env \| grep -E '\^\(NVIDIA_VISIBLE_DEVICES\|CUDA_\)'/);
    }
    assert.deepEqual(out.spec?.containers[0]?.resources, { limits: { "nvidia.com/gpu": "1" } });
    assert.equal(pod.spec?.containers[0]?.image, "cuda:12", "the input is not changed");
  });

  it("keeps the GPU requests of the shipped examples", async () => {
    const pod = parse(
      await readFile(resolve(EXAMPLES, "13-multi-container.yaml"), "utf8"),
    ) as V1Pod;
    const out = forRealNode(pod, "busybox");
    assert.deepEqual(
      out.spec?.containers.map((c) => c.resources),
      pod.spec?.containers.map((c) => c.resources),
    );
  });

  it("reads NAME=VALUE lines as env prints them; a value may hold '='", () => {
    assert.deepEqual(parseEnvLines("A=1\nnoise\nB=x=y\n"), { A: "1", B: "x=y" });
  });
});
