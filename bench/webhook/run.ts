// Webhook benchmark: throughput and latency of hami's /mutate on a realistic GPU pod next to two
// bare express HTTPS handlers (a fixed AdmissionResponse without reading the body, and the same
// after reading and parsing the body): same TLS, keep-alive and client (autocannon), one run,
// rounds interleaved. Also cold start: process start to the first successful admission.
// Prints one JSON document.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { ensureLocalCerts } from "../../src/certs/index.js";
import { freePort, waitFor } from "../../test/helpers/net.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const COLD_STARTS = 5;

interface Server {
  child: ChildProcess;
  port: number;
}

function post(port: number, body: string): Promise<number> {
  return new Promise((resolvePost, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mutate",
        method: "POST",
        rejectUnauthorized: false,
        agent: false,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolvePost(res.statusCode ?? 0);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function start(command: string[], port: number, body: string): Promise<Server> {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  await waitFor(`server on ${port}`, async () => (await post(port, body)) === 200, 20_000);
  return { child, port };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolveExit) => server.child.once("exit", resolveExit));
  server.child.kill("SIGTERM");
  await exited;
}

function hamiCommand(certs: string, port: number): string[] {
  return [
    join(ROOT, "dist/cli/main.js"),
    "webhook",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--tls-cert",
    join(certs, "tls.crt"),
    "--tls-key",
    join(certs, "tls.key"),
    "--config",
    join(ROOT, "examples/hami-scheduler-device.yaml"),
  ];
}

async function load(port: number, body: string, seconds: number) {
  const result = await autocannon({
    url: `https://127.0.0.1:${port}/mutate`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections: CONNECTIONS,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`load on ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
  };
}

type Variant = "bare" | "bareParse" | "hami";

function ratio(a: number, b: number): number {
  return Number((a / b).toFixed(3));
}

async function startBare(mode: "fixed" | "parse", certs: string, body: string): Promise<Server> {
  const port = await freePort();
  const script = join(ROOT, "bench/webhook/bare-server.ts");
  return start(
    ["--import", "tsx", script, mode, join(certs, "tls.crt"), join(certs, "tls.key"), String(port)],
    port,
    body,
  );
}

async function startHami(certs: string, body: string): Promise<Server> {
  const port = await freePort();
  return start(hamiCommand(certs, port), port, body);
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

async function coldStarts(certs: string, body: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const port = await freePort();
    const begin = performance.now();
    const child = spawn(process.execPath, hamiCommand(certs, port), { cwd: ROOT, stdio: "ignore" });
    for (;;) {
      const status = await post(port, body).catch(() => 0);
      if (status === 200) break;
      if (performance.now() - begin > 10_000)
        throw new Error("cold start: no admission within 10 s");
      await new Promise((r) => setTimeout(r, 2));
    }
    times.push(performance.now() - begin);
    await stop({ child, port });
  }
  return times;
}

async function main(): Promise<void> {
  const certs = await mkdtemp(join(tmpdir(), "hami-bench-"));
  try {
    await ensureLocalCerts({ dir: certs, hosts: ["127.0.0.1", "localhost"], now: new Date() });
    const body = await readFile(join(ROOT, "examples/admission-review.json"), "utf8");
    const servers: Record<Variant, Server> = {
      bare: await startBare("fixed", certs, body),
      bareParse: await startBare("parse", certs, body),
      hami: await startHami(certs, body),
    };
    for (const server of Object.values(servers)) await load(server.port, body, 2);
    const rounds: Record<Variant, Awaited<ReturnType<typeof load>>>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rounds.push({
        bare: await load(servers.bare.port, body, DURATION_S),
        bareParse: await load(servers.bareParse.port, body, DURATION_S),
        hami: await load(servers.hami.port, body, DURATION_S),
      });
    }
    for (const server of Object.values(servers)) await stop(server);
    const summary = (key: Variant) => ({
      requestsPerSec: Math.round(mean(rounds.map((r) => r[key].requestsPerSec))),
      p50Ms: mean(rounds.map((r) => r[key].p50Ms)),
      p99Ms: mean(rounds.map((r) => r[key].p99Ms)),
    });
    const bareSummary = summary("bare");
    const bareParseSummary = summary("bareParse");
    const hamiSummary = summary("hami");
    const cold = (await coldStarts(certs, body)).sort((a, b) => a - b);
    const report = {
      benchmark: "webhook",
      machine: { cpus: cpus().length, node: process.version },
      load: {
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        rounds: ROUNDS,
        body: "examples/admission-review.json",
        bodyBytes: Buffer.byteLength(body),
      },
      bare: bareSummary,
      bareParse: bareParseSummary,
      hami: hamiSummary,
      ratios: {
        throughput: ratio(hamiSummary.requestsPerSec, bareSummary.requestsPerSec),
        p99: ratio(hamiSummary.p99Ms, bareSummary.p99Ms),
        throughputVsBareParse: ratio(hamiSummary.requestsPerSec, bareParseSummary.requestsPerSec),
        p99VsBareParse: ratio(hamiSummary.p99Ms, bareParseSummary.p99Ms),
      },
      targets: { throughputAtLeast: 0.8, p99AtMost: 1.5, coldStartMsUnder: 400 },
      coldStartMs: {
        runs: cold.map((ms) => Math.round(ms)),
        median: Math.round(cold[Math.floor(cold.length / 2)] ?? 0),
        max: Math.round(cold.at(-1) ?? 0),
      },
      rounds,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await rm(certs, { recursive: true, force: true });
  }
}

await main();
