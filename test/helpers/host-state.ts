// What a real node could leave behind on this machine, read from the host: network links, cgroups,
// mounts, node processes, firewall rules, the host paths kubelet/containerd/CNI/HAMi-core hardcode,
// and the sysctls the kubelet tunes. Two snapshots taken around a real node must be equal.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_TUNABLES } from "../../src/local/real-node-config.js";
import { runsByStat } from "../../src/local/real-node.js";

export interface HostState {
  links: string[];
  cgroups: string[];
  mounts: string[];
  processes: string[];
  firewall: string[];
  paths: string[];
  sysctls: string[];
  /** The real node's temp dirs (hami-node-*) in the temp dir. */
  tempDirs: string[];
}

const PATHS = [
  "/var/lib/kubelet",
  "/var/log/containers",
  "/var/log/pods",
  "/var/lib/cni",
  "/run/containerd",
  "/run/netns",
  "/tmp/vgpulock",
  "/etc/cni/net.d",
];
const NODE_COMMANDS = /^(kubelet|containerd|containerd-shim.*|pause|runc)$/;

function output(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

function cgroups(): string[] {
  const root = "/sys/fs/cgroup";
  return readdirSync(root, { withFileTypes: true })
    .filter((h) => h.isDirectory())
    .flatMap((h) =>
      readdirSync(join(root, h.name), { withFileTypes: true })
        .filter((c) => c.isDirectory())
        .map((c) => `${h.name}/${c.name}`),
    )
    .sort();
}

function processes(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      // A zombie has exited and holds nothing; reaping it is its parent's job (PID 1 for the
      // daemonized shims and their containers), done on that process's schedule.
      if (!runsByStat(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (NODE_COMMANDS.test(comm) || cmdline.includes("hami-node-"))
        found.push(`${pid} ${cmdline}`);
    } catch {
      // exited while reading
    }
  }
  return found.sort();
}

export function hostState(): HostState {
  return {
    links: output("ip", ["-o", "link", "show"])
      .split("\n")
      .map((line) => line.split(": ")[1] ?? "")
      .filter((name) => name !== "")
      .sort(),
    cgroups: cgroups(),
    mounts: readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4] ?? "")
      .filter((point) => point !== "")
      .sort(),
    processes: processes(),
    firewall: [
      ...output("iptables-save", []).split("\n"),
      ...output("nft", ["list", "ruleset"]).split("\n"),
    ]
      .filter((line) => line.trim() !== "" && !line.startsWith("#"))
      .map((line) => line.replace(/\[\d+:\d+\]/, "")),
    paths: PATHS.filter((p) => existsSync(p)),
    sysctls: KERNEL_TUNABLES.map((s) => `${s}=${readFileSync(`/proc/sys/${s}`, "utf8").trim()}`),
    tempDirs: readdirSync(tmpdir()).filter((name) => name.startsWith("hami-node-")),
  };
}
