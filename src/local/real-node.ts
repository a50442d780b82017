// A REAL node for tests and `hami local --real-node`: containerd + runc + the kubelet built from the
// pinned module, joined to the harness's kube-apiserver, running real pods from images made without
// Docker (test/cluster/images). Only the GPUs (and HAMi-core's library) are simulated.
//
// Settings are those ../shared/real-node-notes.md found to work on these machines (cgroup v1, no
// CAP_SYS_RESOURCE, no Docker). Everything the node changes stays in one temp dir, one mount namespace
// and one cgroup root, so stop() puts the machine back as it was:
// - a holder process owns a private mount namespace in which /run, /var/lib and /var/log are empty
//   tmpfs mounts, /var/lib/kubelet is the temp dir's kubelet root (the kubelet hardcodes
//   /var/lib/kubelet/device-plugins and pod-resources), and the /proc/sys files the kubelet tunes are
//   bound to copies; containerd and the kubelet run in it (nsenter), so their mounts die with it;
// - pods live under the cgroup root /hami-<id> in every cgroup v1 hierarchy, removed at stop;
// - the CNI bridge hami<id> (no gateway, no masquerade, so no iptables rule) is deleted at stop.

import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  rmdir,
  writeFile,
} from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER_BIN, killOnExit, stopProcess, type ControlPlane } from "./control-plane.js";
import { freePort, waitFor } from "./net.js";
import {
  CNI_BIN,
  cniConfig,
  containerdConfig,
  holderScript,
  kubeletConfig,
} from "./real-node-config.js";

/** The apt packages a real node needs (Debian 12 names). */
const REAL_NODE_PACKAGES = [
  "containerd",
  "runc",
  "containernetworking-plugins",
  "umoci",
  "skopeo",
  "busybox-static",
  "gcc",
];

const IMAGES = join(CLUSTER_BIN, "images");
const COMMANDS = [
  "containerd",
  "containerd-shim-runc-v2",
  "runc",
  "ctr",
  "unshare",
  "nsenter",
  "ip",
];
const CGROUP_FS = "/sys/fs/cgroup";

export function onPath(command: string): boolean {
  return (
    spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).stdout.trim() !== ""
  );
}

/** Why a real node cannot run here, or undefined when it can. */
export function realNodeMissing(): string | undefined {
  if (process.getuid?.() !== 0)
    return "a real node needs root (containerd, mount namespaces, cgroups)";
  const missing = COMMANDS.filter((c) => !onPath(c));
  if (!existsSync(join(CNI_BIN, "bridge"))) missing.push(`${CNI_BIN}/bridge`);
  if (missing.length > 0)
    return `${missing.join(", ")} not found: apt-get install ${REAL_NODE_PACKAGES.join(" ")} (.ci/run does)`;
  const built = ["kubelet", "images/pause.tar", "images/busybox.tar", "images/refs"];
  const absent = built.filter((f) => !existsSync(join(CLUSTER_BIN, f)));
  if (absent.length > 0)
    return `${absent.join(", ")} not built: run npm run cluster:build after installing the packages`;
  if (!existsSync(join(CGROUP_FS, "memory", "cgroup.procs")))
    return `no cgroup v1 memory hierarchy at ${CGROUP_FS}/memory (the node is set up for cgroup v1 hosts)`;
  return undefined;
}

export interface RealNodeOptions {
  plane: ControlPlane;
  name: string;
  labels?: Record<string, string>;
}

export interface RealNode {
  name: string;
  /** The temp dir holding containerd's and the kubelet's state, configs and logs. */
  dir: string;
  /** The kubelet's device-plugin directory as seen from the host (for `hami node`). */
  pluginDir: string;
  /** The image refs imported into containerd: pods use them with imagePullPolicy Never. */
  images: { pause: string; busybox: string };
  /** Stops the kubelet and starts it again (pods keep running; plugins must register again). */
  restartKubelet(): Promise<void>;
  /** Loads an image archive (docker-archive, as skopeo writes it) into the node's containerd. */
  importImage(archive: string): Promise<void>;
  /** The last lines of a component's log (kubelet or containerd). */
  tail(component: "kubelet" | "containerd"): Promise<string>;
  stop(): Promise<void>;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) resolveOutput(stdout);
      else reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stderr}`));
    });
  });
}

/** The host's first non-loopback IPv4 address: the kubelet refuses a loopback node IP. */
function nodeAddress(): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  throw new Error("the real node needs a non-loopback IPv4 address for the kubelet");
}

/** The cgroup hierarchies mounted here: every v1 controller and the unified (v2) one. */
async function cgroupHierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_FS, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => join(CGROUP_FS, e.name));
}

/** Whether a process runs, from the text of its /proc/PID/stat ("" once it is gone): not when it
 * is a zombie (exited, waiting for its parent, here PID 1 for the daemonized shims and their
 * containers, to reap it; a zombie holds no memory, file, mount or cgroup). Field 3 is the state,
 * after the parenthesized command. */
export function runsByStat(stat: string): boolean {
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "" && state !== "Z";
}

async function running(pid: number): Promise<boolean> {
  return runsByStat(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""));
}

/** SIGKILLs `pids` and waits until none of them runs. */
async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await waitFor(
    `processes ${pids.join(", ")} exited`,
    async () =>
      (await Promise.all(pids.map(running))).every((alive) => !alive) ? true : undefined,
    10_000,
  );
}

/** Kills every process left in a cgroup tree, then removes it bottom-up. */
async function removeCgroupTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const children = (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory());
  for (const child of children) await removeCgroupTree(join(path, child.name));
  const procs = (await readFile(join(path, "cgroup.procs"), "utf8").catch(() => ""))
    .split("\n")
    .filter((line) => line !== "");
  await killAll(procs.map(Number));
  await waitFor(
    `cgroup ${path} removed`,
    async () => {
      try {
        await rmdir(path);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
        return undefined;
      }
    },
    10_000,
  );
}

/** PIDs whose command line mentions `needle` (the shims containerd leaves when it stops). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

interface Component {
  child: ChildProcess;
  log: string;
}

class Node implements RealNode {
  readonly name: string;
  readonly dir: string;
  readonly pluginDir: string;
  readonly images: { pause: string; busybox: string };
  private holder: ChildProcess | undefined;
  private containerd: Component | undefined;
  private kubelet: Component | undefined;
  private readonly bridge: string;
  private readonly cgroupRoot: string;
  private readonly options: RealNodeOptions;
  private kubeletPorts: { port: number; healthz: number } | undefined;

  constructor(options: RealNodeOptions, dir: string, images: { pause: string; busybox: string }) {
    const id = randomBytes(4).toString("hex");
    this.options = options;
    this.name = options.name;
    this.dir = dir;
    this.pluginDir = join(dir, "kubelet", "device-plugins");
    this.images = images;
    this.bridge = `hami${id}`;
    this.cgroupRoot = `/hami-${id}`;
  }

  private socket(): string {
    return join(this.dir, "containerd", "containerd.sock");
  }

  /** Starts `command` inside the holder's mount namespace, output to <dir>/<name>.log. */
  private enter(name: string, command: string[]): Component {
    const holder = this.holder?.pid;
    if (holder === undefined) throw new Error("the node's mount namespace is not up");
    const log = join(this.dir, `${name}.log`);
    const child = spawn("nsenter", [`--mount=/proc/${holder}/ns/mnt`, "--", ...command], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = createWriteStream(log, { flags: "a" });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    killOnExit(child);
    return { child, log };
  }

  async tail(component: "kubelet" | "containerd"): Promise<string> {
    return (await readFile(join(this.dir, `${component}.log`), "utf8").catch(() => "")).slice(
      -6_000,
    );
  }

  async importImage(archive: string): Promise<void> {
    await this.ctr(["images", "import", archive]);
  }

  private async ctr(args: string[]): Promise<string> {
    return run("ctr", ["--address", this.socket(), "-n", "k8s.io", ...args]);
  }

  async start(): Promise<void> {
    const { dir } = this;
    await Promise.all(
      ["kubelet/device-plugins", "containerd", "cni", "pod-logs", "kubelet-pki", "sysctl"].map(
        (d) => mkdir(join(dir, d), { recursive: true }),
      ),
    );
    for (const hierarchy of await cgroupHierarchies())
      await mkdir(join(hierarchy, this.cgroupRoot), { recursive: true });
    this.holder = spawn(
      "unshare",
      ["--mount", "--propagation", "private", "bash", "-c", holderScript(dir)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    killOnExit(this.holder);
    await this.holderReady(this.holder);
    await writeFile(join(dir, "containerd.toml"), containerdConfig(dir, this.images.pause));
    await writeFile(join(dir, "cni", "10-hami.conflist"), cniConfig(dir, this.bridge));
    this.containerd = this.enter("containerd", [
      "containerd",
      "--config",
      join(dir, "containerd.toml"),
    ]);
    await waitFor(
      "containerd serving",
      async () => {
        if (this.containerd?.child.exitCode !== null)
          throw new Error(`containerd exited:\n${await this.tail("containerd")}`);
        return (await this.ctr(["version"]).catch(() => undefined)) !== undefined
          ? true
          : undefined;
      },
      30_000,
    );
    for (const image of ["pause", "busybox"])
      await this.ctr(["images", "import", join(IMAGES, `${image}.tar`)]);
    await copyFile(join(this.options.plane.dir, "ca.crt"), join(dir, "ca.crt"));
    this.kubeletPorts = { port: await freePort(), healthz: await freePort() };
    await writeFile(
      join(dir, "kubelet.yaml"),
      kubeletConfig({
        dir,
        address: nodeAddress(),
        port: this.kubeletPorts.port,
        healthzPort: this.kubeletPorts.healthz,
        cgroupRoot: this.cgroupRoot,
        ca: join(dir, "ca.crt"),
      }),
    );
    await this.startKubelet();
  }

  private async holderReady(holder: ChildProcess): Promise<void> {
    let output = "";
    await new Promise<void>((resolveReady, reject) => {
      holder.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("ready")) resolveReady();
      });
      holder.stderr?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      holder.once("exit", (code) => {
        reject(new Error(`the mount namespace setup failed (exit ${code ?? "?"}):\n${output}`));
      });
    });
  }

  private async startKubelet(): Promise<void> {
    const labels = Object.entries(this.options.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    this.kubelet = this.enter("kubelet", [
      join(CLUSTER_BIN, "kubelet"),
      `--config=${join(this.dir, "kubelet.yaml")}`,
      `--kubeconfig=${this.options.plane.kubeconfig}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${nodeAddress()}`,
      `--cert-dir=${join(this.dir, "kubelet-pki")}`,
      ...(labels === "" ? [] : [`--node-labels=${labels}`]),
    ]);
    const healthz = `http://127.0.0.1:${this.kubeletPorts?.healthz ?? 0}/healthz`;
    await waitFor(
      "kubelet healthy",
      async () => {
        if (this.kubelet?.child.exitCode !== null)
          throw new Error(`kubelet exited:\n${await this.tail("kubelet")}`);
        return (await fetch(healthz).catch(() => undefined))?.ok === true ? true : undefined;
      },
      90_000,
    );
  }

  async restartKubelet(): Promise<void> {
    if (this.kubelet !== undefined) await stopProcess(this.kubelet.child);
    await this.startKubelet();
  }

  /** Every step runs even when an earlier one failed (a cgroup that will not go away must not keep
   * the bridge, the namespace or the temp dir); the first failure is thrown at the end. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    const step = async (work: () => Promise<unknown>): Promise<void> => {
      await work().catch((error: unknown) => failures.push(error));
    };
    await step(async () => this.kubelet && stopProcess(this.kubelet.child));
    await step(async () => this.containerd && stopProcess(this.containerd.child));
    // The shims outlive containerd; the containers under the cgroup root outlive their shims.
    await step(async () => killAll(await processesMentioning(join(this.dir, "containerd"))));
    for (const hierarchy of await cgroupHierarchies())
      await step(() => removeCgroupTree(join(hierarchy, this.cgroupRoot)));
    await step(async () => {
      this.holder?.kill("SIGKILL");
      if (this.holder !== undefined) await stopProcess(this.holder);
    });
    await step(() => run("ip", ["link", "delete", this.bridge]).catch(() => undefined));
    await step(() => rm(this.dir, { recursive: true, force: true }));
    if (failures.length > 0) throw failures[0];
  }
}

/** Starts containerd and the kubelet as node `name` of `plane`; resolves once the kubelet is healthy
 * (the Node object exists; Ready follows within seconds). */
export async function startRealNode(options: RealNodeOptions): Promise<RealNode> {
  const reason = realNodeMissing();
  if (reason !== undefined) throw new Error(reason);
  const [pause = "", busybox = ""] = (await readFile(join(IMAGES, "refs"), "utf8")).split("\n");
  const dir = await mkdtemp(join(tmpdir(), "hami-node-"));
  const node = new Node(options, dir, { pause, busybox });
  try {
    await node.start();
    return node;
  } catch (error) {
    await node.stop();
    throw error;
  }
}
