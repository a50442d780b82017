// `hami scheduler` as a separate process against a test control plane, plain HTTP on loopback
// (or its deployed shape, given TLS flags), ready once its informers have listed (it answers 503
// before) on `readyPort` (--port, or --status-port in the deployed shape).

import { spawnHami } from "./cli.js";
import { stopProcess, type ControlPlane } from "./control-plane.js";
import { waitFor } from "./net.js";

export interface RunningExtender {
  stop(): Promise<void>;
  /** SIGKILL: nothing runs on the way out (no Lease released, no label removed). */
  kill(): Promise<void>;
  output(): string;
}

export async function startExtenderProcess(
  plane: ControlPlane,
  port: number,
  extraArgs: string[] = [],
  readyPort = port,
): Promise<RunningExtender> {
  const run = spawnHami(
    [
      "scheduler",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--kubeconfig",
      plane.kubeconfig,
      ...extraArgs,
    ],
    { LOG_LEVEL: "warn" },
  );
  await waitFor(
    "extender ready",
    async () => {
      if (run.child.exitCode !== null) throw new Error(`extender exited: ${run.output().stderr}`);
      return (await fetch(`http://127.0.0.1:${readyPort}/readyz`).catch(() => undefined))?.ok;
    },
    30_000,
  );
  return {
    stop: () => stopProcess(run.child),
    kill: async () => {
      run.child.kill("SIGKILL");
      await run.exited;
    },
    output: () => run.output().stdout + run.output().stderr,
  };
}
