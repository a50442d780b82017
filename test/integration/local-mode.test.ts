// `hami local` (npm start) end to end: the whole system on this machine with simulated GPU nodes
// (no real kubelet, no GPUs). Waits for the examples to be placed, checks the printed table, the
// /ui/state data and the /ui page in headless Chromium (playwright-core; a screenshot is taken),
// then Ctrl-C: everything stops and the temp state is removed.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { controlPlaneMissing } from "../helpers/control-plane.js";
import { runHami, spawnHami } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing();
const chromium = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).stdout.trim();

async function getJson(url: string): Promise<unknown> {
  return (await fetch(url)).json();
}

interface UiState {
  nodes: { name: string; devices: { uuid: string; pods: { name: string }[] }[] }[];
}

describe("hami local (npm start)", { skip: missing }, () => {
  let run: ReturnType<typeof spawnHami>;
  let ui = "";

  before(async () => {
    run = spawnHami(["local"], { LOG_LEVEL: "warn" });
    await waitFor(
      "local mode running",
      () => {
        const out = run.output();
        if (out.code !== null)
          throw new Error(`hami local exited ${out.code}: ${out.stdout}${out.stderr}`);
        return out.stdout.includes("running; Ctrl-C stops everything") ? true : undefined;
      },
      300_000,
    );
    ui = /GPU view: (http:\/\/\S+)/.exec(run.output().stdout)?.[1] ?? "";
  });

  after(async () => {
    if (run.child.exitCode === null) {
      run.child.kill("SIGKILL");
      await run.exited;
    }
  });

  it("prints every example placed, with its devices and the env Allocate gave it", () => {
    const out = run.output().stdout;
    const block = (name: string) =>
      new RegExp(
        `^${name}  node=(\\S+)  phase=Running  bind-phase=success\\n    devices: (.*)\\n    env:     (.*)$`,
        "m",
      ).exec(out);
    const expect: [string, RegExp, RegExp][] = [
      ["default-use", /cuda: GPU-\S+ (81920|15360|32768)MiB 100%/, /CUDA_DEVICE_SM_LIMIT=100/],
      ["memory-mib", /3000MiB/, /CUDA_DEVICE_MEMORY_LIMIT_0=3000m/],
      ["cores", /2000MiB 30%/, /CUDA_DEVICE_SM_LIMIT=30/],
      ["type-include", /GPU-a100-\d 10000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-a100-\d/],
      ["type-exclude", /GPU-t4-\d/, /NVIDIA_VISIBLE_DEVICES=GPU-t4-\d/],
      ["uuid-include", /GPU-v100-3 1000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-v100-3/],
      ["uuid-exclude", /GPU-t4-[23] 1000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-t4-[23]/],
      ["multi-gpu", /4000MiB 0%, GPU-\S+ 4000MiB/, /CUDA_DEVICE_MEMORY_LIMIT_1=4000m/],
      [
        "multi-container",
        /cuda-0: .*1000MiB.*; cuda-1: .*1500MiB/,
        /cuda-1: CUDA_DEVICE_MEMORY_LIMIT_0=1500m/,
      ],
    ];
    for (const [name, devices, env] of expect) {
      const found = block(name);
      assert.ok(found, `${name} not reported as placed:\n${out}`);
      assert.match(found[2] ?? "", devices, name);
      assert.match(found[3] ?? "", env, name);
    }
  });

  it("the printed `hami events` command reads the allocations over TLS, as the read-only user", async () => {
    const line =
      /events: +NATS_USER=(\S+) NATS_PASSWORD=(\S+) hami events --follow --nats (\S+) --nats-ca (\S+)/.exec(
        run.output().stdout,
      );
    assert.ok(line, run.output().stdout);
    const [, user, password, url, ca] = line;
    const events = await runHami(
      ["events", "--nats", url!, "--nats-ca", ca!, "--type", "allocation"],
      {
        NATS_USER: user!,
        NATS_PASSWORD: password!,
      },
    );
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /allocation .*memory-mib/);
    const plain = await runHami(["events", "--nats", url!], {
      NATS_USER: user!,
      NATS_PASSWORD: password!,
    });
    assert.notEqual(plain.code, 0, "a client without the CA is refused");
  });

  it("/ui/state shows each pod on the GPU it was given", async () => {
    const state = (await getJson(`${ui}/state`)) as UiState;
    const holder = (pod: string) =>
      state.nodes.flatMap((n) =>
        n.devices.filter((d) => d.pods.some((p) => p.name === pod)).map((d) => d.uuid),
      );
    assert.deepEqual(holder("uuid-include"), ["GPU-v100-3"]);
    assert.equal(holder("multi-gpu").length, 2);
  });

  it(
    "the /ui page draws the placed pod on the right GPU card (headless Chromium)",
    { skip: chromium === "" ? "chromium not installed (.ci/run installs it)" : false },
    async () => {
      const { chromium: browserType } = await import("playwright-core");
      const browser = await browserType.launch({
        executablePath: chromium,
        args: ["--no-sandbox"],
      });
      try {
        const page = await browser.newPage({ ignoreHTTPSErrors: true });
        await page.goto(ui);
        const item = page.locator('[data-gpu="GPU-v100-3"] [data-pod="default/uuid-include"]');
        await item.waitFor({ timeout: 15_000 });
        assert.match(await item.innerText(), /default\/uuid-include 1000 MiB, 0%/);
        const shot = await page.screenshot({ fullPage: true });
        assert.ok(shot.length > 10_000, "a real screenshot");
      } finally {
        await browser.close();
      }
    },
  );

  it("Ctrl-C stops everything and removes the temp state, even after nats-server died from a signal", async () => {
    const dir = /removing (\S+)/.exec(run.output().stdout)?.[1];
    assert.equal(dir, undefined);
    const children = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(run.child.pid)], {
      encoding: "utf8",
    })
      .stdout.trim()
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .map(([pid, comm]) => ({ pid: Number(pid), comm: comm ?? "" }));
    const nats = children.find((c) => c.comm === "nats-server");
    assert.ok(nats, `nats-server among ${JSON.stringify(children)}`);
    process.kill(nats.pid, "SIGKILL");
    run.child.kill("SIGINT");
    const result = await run.exited;
    assert.equal(result.code, 0, result.stderr);
    const removed = /SIGINT: stopping everything and removing (\S+)/.exec(result.stdout)?.[1] ?? "";
    assert.ok(removed.startsWith("/"), result.stdout);
    assert.equal(existsSync(removed), false);
    const kubeconfig = /kubeconfig (\S+)/.exec(result.stdout)?.[1] ?? "";
    assert.equal(existsSync(kubeconfig), false, "the control plane's temp dir is gone too");
    // tsx's own esbuild service (the dev runner, not a child hami starts) exits on its own.
    const ours = children.filter((c) => c.comm !== "esbuild");
    const running = (c: { pid: number }): boolean => {
      try {
        process.kill(c.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(ours.filter(running), [], "no child left running");
  });
});
