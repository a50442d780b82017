// The configuration files of a real node (real-node.ts): containerd, the CNI bridge, the kubelet,
// and the setup of the node's mount namespace. Settings from ../shared/real-node-notes.md.

import { join } from "node:path";
import { stringify } from "yaml";

export const CNI_BIN = "/usr/lib/cni";

/** The sysctls the kubelet sets at start (kubernetes v1.36.3, pkg/kubelet/cm/container_manager_linux.go
 * setupKernelTunables); bound to copies in the node's mount namespace. */
export const KERNEL_TUNABLES = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
];
export function containerdConfig(dir: string, pauseRef: string): string {
  const state = join(dir, "containerd");
  return `version = 2
root = "${state}/root"
state = "${state}/state"
[grpc]
  address = "${state}/containerd.sock"
[ttrpc]
  address = "${state}/containerd.sock.ttrpc"
[debug]
  address = "${state}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "${state}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseRef}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN}"
    conf_dir = "${dir}/cni"
`;
}

export function cniConfig(dir: string, bridge: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "hami-real-node",
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: false,
        ipMasq: false,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: "10.88.0.0/24" }]],
          dataDir: join(dir, "cni-ipam"),
        },
      },
    ],
  });
}

export function kubeletConfig(options: {
  dir: string;
  address: string;
  port: number;
  healthzPort: number;
  cgroupRoot: string;
  ca: string;
}): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: options.cgroupRoot,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${join(options.dir, "containerd", "containerd.sock")}`,
    makeIPTablesUtilChains: false,
    address: options.address,
    port: options.port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: options.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: options.ca },
    },
    authorization: { mode: "Webhook" },
    podLogsDir: join(options.dir, "pod-logs"),
    resolvConf: "",
    // This machine's disk and memory are shared with the build: never evict the test pods.
    evictionHard: {
      "memory.available": "1Mi",
      "nodefs.available": "0%",
      "imagefs.available": "0%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    nodeStatusUpdateFrequency: "2s",
    syncFrequency: "5s",
    fileCheckFrequency: "5s",
  });
}

/** The mount namespace's setup: run by the holder before it sleeps until killed. */
export function holderScript(dir: string): string {
  const tunables = KERNEL_TUNABLES.map((t) => {
    const copy = `${dir}/sysctl/${t.replaceAll("/", ".")}`;
    return `if [ -f /proc/sys/${t} ]; then cp /proc/sys/${t} "${copy}"; mount --bind "${copy}" /proc/sys/${t}; fi`;
  });
  return [
    "set -e",
    "for d in /run /var/lib /var/log; do mount -t tmpfs -o mode=755 tmpfs $d; done",
    "mkdir -p /var/lib/kubelet /run/netns",
    `mount --bind "${dir}/kubelet" "${dir}/kubelet"`,
    `mount --make-rshared "${dir}/kubelet"`,
    `mount --rbind "${dir}/kubelet" /var/lib/kubelet`,
    `mkdir -p "${dir}/sysctl"`,
    ...tunables,
    "echo ready",
    "exec sleep infinity",
  ].join("\n");
}
