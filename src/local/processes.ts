// The `hami` processes of the local mode (scheduler, webhook, node agents): started with their
// output in a log file each, stoppable, restartable and killable by tests, all stopped at the end.

import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { killOnExit, stopProcess } from "./control-plane.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** A component a test or the demo can stop and start again. */
export interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A `hami` process a test can stop, start again or kill, with the arguments it runs with
 * (`hami` then these). */
export interface HamiProcess extends Restartable {
  readonly args: readonly string[];
  /** SIGKILL, as a crash: no shutdown, no cleanup; resolves once it exited. */
  crash(): Promise<void>;
}
/** A node's `hami node` process. */
export type AgentProcess = HamiProcess;

export class Processes {
  private readonly children: ChildProcess[] = [];
  private readonly dir: string;
  private readonly hami: string[];
  private readonly env: NodeJS.ProcessEnv;

  constructor(dir: string, hami: string[], env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.hami = hami;
    this.env = env;
  }

  /** Starts `hami <args>`, its output appended to <dir>/<name>.log (a restart keeps what the
   * previous run wrote); `env` adds to the environment (secrets go there, not in argv, where ps
   * shows them). */
  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const [bin = process.execPath, ...rest] = this.hami;
    const child = spawn(bin, [...rest, ...args], {
      cwd: ROOT,
      env: { ...this.env, ...env, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: "a" });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    killOnExit(child);
    this.children.push(child);
    return child;
  }

  /** `hami <args>` as a process a test can stop, start again or crash; `child()` is the one
   * running now. */
  restartable(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): HamiProcess & { child: () => ChildProcess } {
    let child = this.start(name, args, env);
    return {
      args,
      child: () => child,
      stop: () => stopProcess(child),
      start: () => {
        child = this.start(name, args, env);
        return Promise.resolve();
      },
      crash: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      },
    };
  }

  async tail(name: string): Promise<string> {
    return (await readFile(join(this.dir, `${name}.log`), "utf8").catch(() => "")).slice(-4_000);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => stopProcess(child)));
  }
}
