// Starts the real kube-scheduler (built by npm run cluster:build) against a control plane, with a
// KubeSchedulerConfiguration holding the `hami-scheduler` profile and an HTTP extender, configured
// as the Helm chart will configure it.

import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { launch, stopProcess, type ControlPlane } from "./control-plane.js";
import { freePort, httpsStatus, waitFor } from "./net.js";

export const SCHEDULER_NAME = "hami-scheduler";

export interface RunningScheduler {
  port: number;
  output: () => string;
  stop(): Promise<void>;
}

const SHIPPED_CONFIG = resolve(
  import.meta.dirname,
  "../../deploy/scheduler/kube-scheduler-config.yaml",
);

interface SchedulerConfiguration {
  clientConnection: { kubeconfig: string };
  profiles: { schedulerName: string }[];
  extenders: { urlPrefix: string }[];
}

/** The shipped configuration (deploy/scheduler), pointed at this cluster and extender. */
export async function schedulerConfig(
  kubeconfig: string,
  extenderURL: string,
): Promise<SchedulerConfiguration> {
  const config = parse(await readFile(SHIPPED_CONFIG, "utf8")) as SchedulerConfiguration;
  config.clientConnection.kubeconfig = kubeconfig;
  for (const extender of config.extenders) extender.urlPrefix = extenderURL;
  return config;
}

/** The scheduler serves a self-signed certificate of its own; only its health is read here. */
function healthz(port: number): Promise<number> {
  return httpsStatus(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false }).catch(
    () => 0,
  );
}

/** Starts kube-scheduler with the shipped configuration pointed at `extender` (a URL), or with a
 * given configuration object (its clientConnection is set to the plane's kubeconfig). */
export async function startScheduler(
  plane: Pick<ControlPlane, "dir" | "kubeconfig">,
  extender: string | Record<string, unknown>,
): Promise<RunningScheduler> {
  const port = await freePort();
  const configFile = join(plane.dir, `scheduler-${port}.yaml`);
  const config =
    typeof extender === "string"
      ? await schedulerConfig(plane.kubeconfig, extender)
      : { ...extender, clientConnection: { kubeconfig: plane.kubeconfig } };
  await writeFile(configFile, stringify(config));
  const output = { text: "" };
  const child = launch(
    "kube-scheduler",
    [`--config=${configFile}`, "--bind-address=127.0.0.1", `--secure-port=${port}`],
    output,
  );
  const stop = (): Promise<void> => stopProcess(child);
  try {
    await waitFor(
      "kube-scheduler /healthz",
      async () => {
        if (child.exitCode !== null) throw new Error(`kube-scheduler exited ${child.exitCode}`);
        return (await healthz(port)) === 200;
      },
      60_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\nkube-scheduler output:\n${output.text}`);
  }
  return { port, output: () => output.text, stop };
}
