// Starts a real nats-server (JetStream on, temp store dir, loopback port) for the tests and the local mode.
// Fails with a build hint when the binary is missing: these tests never fake NATS.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConnectionOptions } from "nats";
import { CLUSTER_BIN, killOnExit, stopProcess } from "./control-plane.js";
import { freePort, waitFor } from "./net.js";

export interface NatsServer {
  url: string;
  port: number;
  /** Stops the process (the store dir stays, so a restart keeps the streams). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and deletes the store. */
  cleanup(): Promise<void>;
}

/** The nats-server that cluster:build makes from the Go module proxy (pinned), else one on PATH. */
export function natsServerBinary(): string | undefined {
  const built = join(CLUSTER_BIN, "nats-server");
  if (existsSync(built)) return built;
  const found = spawnSync("sh", ["-c", "command -v nats-server"], {
    encoding: "utf8",
  }).stdout.trim();
  return found === "" ? undefined : found;
}

function binary(): string {
  const found = natsServerBinary();
  if (found === undefined)
    throw new Error(
      "nats-server not built: run npm run cluster:build (builds it from the Go module proxy; .ci/run does this)",
    );
  return found;
}

export interface StartOptions {
  /** false: prepare but do not start (tests of a server that comes up late). */
  start?: boolean;
  /** Extra nats-server arguments (auth, TLS, a config file). */
  args?: string[];
  /** How the readiness probe connects (credentials, TLS) when args require it. */
  probe?: Partial<ConnectionOptions>;
}

export async function startNats(options: StartOptions = {}): Promise<NatsServer> {
  const bin = binary();
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "hami-nats-"));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = "";
  const start = async (): Promise<void> => {
    output = "";
    child = spawn(
      bin,
      ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, ...(options.args ?? [])],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    killOnExit(child);
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const started = child;
    await waitFor(`nats-server on ${url}`, async () => {
      if (started.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
      const nc = await connect({ servers: url, reconnect: false, ...options.probe });
      await nc.close();
      return true;
    }).catch(async (error: unknown) => {
      await stop();
      throw error;
    });
  };
  // stopProcess also returns for a process that already died from a signal (exitCode stays null
  // then: waiting for its "exit" would never end).
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running !== undefined) await stopProcess(running);
  };
  if (options.start !== false) {
    await start().catch(async (error: unknown) => {
      await rm(storeDir, { recursive: true, force: true });
      throw error;
    });
  }
  return {
    url,
    port,
    start,
    stop,
    cleanup: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
