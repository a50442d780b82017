// The real-node teardown check compares host snapshots. A CI run failed it with two processes left
// whose command lines were empty: the shims and containers the teardown SIGKILLs are reparented to
// PID 1 and stay zombies until PID 1 reaps them, on its own schedule. A zombie has exited and holds
// nothing, so the snapshot leaves it out; a node process that still runs stays in.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { hostState } from "../../helpers/host-state.js";

const dir = mkdtempSync(join(tmpdir(), "hami-host-state-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A program named `pause` (a node command) that is `sleep` underneath. */
const pause = join(dir, "pause");
symlinkSync("/bin/sleep", pause);

function pids(): number[] {
  return hostState().processes.map((line) => Number(line.split(" ")[0]));
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
}

describe("host snapshot processes", () => {
  it("lists a node command that runs", async () => {
    const child = spawn(pause, ["30"], { stdio: "ignore" });
    try {
      await settle();
      assert.ok(pids().includes(child.pid ?? -1), JSON.stringify(hostState().processes));
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("leaves out a node command that exited and waits to be reaped (a zombie)", async () => {
    // `pause 0` exits at once; its parent execs into sleep, which never reaps it.
    const parent = spawn("bash", ["-c", `${pause} 0 & echo $!; exec sleep 30`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const zombie = await new Promise<number>((resolvePid) =>
        parent.stdout.once("data", (chunk: Buffer) => {
          resolvePid(Number(chunk.toString()));
        }),
      );
      await settle();
      assert.ok(!pids().includes(zombie), JSON.stringify(hostState().processes));
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
