// Runs the real `hami` CLI (through tsx, as `npm start` does) as a child process.

import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = resolve(ROOT, "src/cli/main.ts");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function spawnHami(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: () => CliRun; exited: Promise<CliRun> } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const output = (): CliRun => ({ code: child.exitCode, stdout, stderr });
  const exited = new Promise<CliRun>((resolveRun) => {
    child.once("exit", (code) => {
      resolveRun({ code, stdout, stderr });
    });
  });
  return { child, output, exited };
}

export async function runHami(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return spawnHami(args, env).exited;
}
