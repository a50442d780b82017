// The air-gapped bundle (`npm run bundle`): the chart .tgz renders as it is, our image archive is
// tagged exactly as the chart names it (so `ctr import` then `helm install` needs no registry and no
// --set), IMAGES.txt names every other image the chart runs, and install.sh imports then installs.
// Real helm (cluster:build), umoci and skopeo; no Docker.

import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");
const HELM = join(ROOT, ".cluster-bin", "helm");
const run = promisify(execFile);
const tool = (name: string) =>
  spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim() !== "";
const missing = !existsSync(HELM)
  ? "helm not built: run npm run cluster:build"
  : !tool("umoci") || !tool("skopeo")
    ? "umoci and skopeo not installed (apt-get install umoci skopeo)"
    : undefined;

describe("npm run bundle (air-gapped install)", { skip: missing }, () => {
  let out: string;
  let rendered: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "hami-bundle-"));
    await run("bash", [join(ROOT, "deploy/bundle.sh"), out], { maxBuffer: 16 * 1024 * 1024 });
    const chart = (await readdir(out)).find((f) => f.endsWith(".tgz")) ?? "";
    rendered = (
      await run(HELM, ["template", "hami", join(out, chart), "--namespace", "kube-system"], {
        maxBuffer: 16 * 1024 * 1024,
      })
    ).stdout;
  });

  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it("holds the chart, our image, install.sh and IMAGES.txt", async () => {
    assert.deepEqual((await readdir(out)).sort(), [
      "IMAGES.txt",
      "hami-0.1.0.tgz",
      "images",
      "install.sh",
    ]);
    assert.deepEqual(await readdir(join(out, "images")), ["hami.tar"]);
  });

  it("the image archive carries the very name the chart runs", async () => {
    const images = new Set(
      [...rendered.matchAll(/^\s+image: "?([^"\n]+)"?$/gm)].map((m) => m[1] ?? ""),
    );
    // The tag ctr imports it under: the archive's manifest.json (docker-archive layout).
    const manifest = JSON.parse(
      (await run("tar", ["-xOf", join(out, "images", "hami.tar"), "manifest.json"])).stdout,
    ) as { RepoTags?: string[] }[];
    const tagged = `ghcr.io/hami-ts/hami:0.1.0`;
    assert.ok(images.has(tagged), [...images].join(", "));
    assert.deepEqual(
      manifest.map((m) => m.RepoTags),
      [[tagged]],
    );
    // Every other image is listed with the command that archives it.
    const listed = await readFile(join(out, "IMAGES.txt"), "utf8");
    for (const image of images)
      if (image !== tagged)
        assert.match(listed, new RegExp(`skopeo copy docker://${image.replaceAll(".", "\\.")} `));
  });

  it("install.sh imports every archive with ctr, then installs the chart with helm", async () => {
    const script = await readFile(join(out, "install.sh"), "utf8");
    assert.match(script, /ctr -n k8s\.io images import "\$archive"/);
    assert.match(
      script,
      /helm upgrade --install hami "\$here\/hami-0\.1\.0\.tgz" --namespace kube-system/,
    );
    const syntax = spawnSync("bash", ["-n", join(out, "install.sh")]);
    assert.equal(syntax.status, 0, syntax.stderr.toString());
  });
});
