// `hami scheduler` as a separate process against a test control plane, plain HTTP on loopback,
// ready once its informers have listed (it answers 503 before).

import { spawnHami } from "./cli.js";
import { stopProcess, type ControlPlane } from "./control-plane.js";
import { waitFor } from "./net.js";

export interface RunningExtender {
  stop(): Promise<void>;
  output(): string;
}

export async function startExtenderProcess(
  plane: ControlPlane,
  port: number,
  extraArgs: string[] = [],
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
      return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok;
    },
    30_000,
  );
  return {
    stop: () => stopProcess(run.child),
    output: () => run.output().stdout + run.output().stderr,
  };
}
