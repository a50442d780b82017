// NVIDIA's Allocate answer: the HAMi-core environment contract (DESIGN.md section 4; HAMi's
// Allocate, Project-HAMi/HAMi pkg/device-plugin/nvidiadevice/nvinternal/plugin/server.go).

import {
  containerCacheDir,
  controlDisabled,
  VGPU_LOCK_DIR,
  type AllocatePolicy,
  type ContainerIdentity,
  type ContainerResponse,
  type Mount,
} from "../allocate.js";
import type { ContainerDevice } from "../device.js";

/** The Allocate answer for one container. `devices` are as the container sees them: a MIG
 * instance's uuid is its MIG UUID. A MIG instance is isolated by the hardware, so it gets no
 * HAMi-core limit (HAMi answers mig-mode containers with the device alone); a container holding
 * only MIG instances gets no HAMi-core at all. */
export function containerResponse(
  devices: readonly ContainerDevice[],
  who: ContainerIdentity,
  policy: AllocatePolicy,
  cacheFileId: string,
): ContainerResponse {
  const vgpu = `${policy.hookPath}/vgpu`;
  const visible = devices.map((d) => d.uuid).join(",");
  const shared = devices.filter((d) => d.mig === undefined);
  if (shared.length === 0) return { envs: { NVIDIA_VISIBLE_DEVICES: visible }, mounts: [] };
  const envs: Record<string, string> = {
    NVIDIA_VISIBLE_DEVICES: visible,
    CUDA_DEVICE_SM_LIMIT: String(Math.max(0, ...shared.map((d) => d.cores))),
    CUDA_DEVICE_MEMORY_SHARED_CACHE: `${vgpu}/${cacheFileId}.cache`,
  };
  devices.forEach((d, i) => {
    if (d.mig === undefined) envs[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] = `${d.memoryMiB}m`;
  });
  if (policy.memoryScaling > 1) envs.CUDA_OVERSUBSCRIBE = "true";
  if (policy.disableCoreLimit) envs.GPU_CORE_UTILIZATION_POLICY = "disable";
  if (policy.libCudaLogLevel !== undefined) envs.LIBCUDA_LOG_LEVEL = String(policy.libCudaLogLevel);
  // HAMi still mounts the library, lock dir and cache when control is off and skips only the
  // preload; we add none of them, so such a container never touches HAMi-core's host files.
  if (controlDisabled(who.env)) return { envs, mounts: [] };
  const mounts: Mount[] = [
    {
      containerPath: `${vgpu}/libvgpu.so`,
      hostPath: `${vgpu}/libvgpu.so`,
      readOnly: true,
      source: "file",
    },
    {
      containerPath: vgpu,
      hostPath: containerCacheDir(policy.hookPath, who.podUID, who.container),
      readOnly: false,
      source: "directory",
    },
    {
      containerPath: VGPU_LOCK_DIR,
      hostPath: policy.lockDir,
      readOnly: false,
      source: "directory",
    },
    {
      containerPath: "/etc/ld.so.preload",
      hostPath: `${vgpu}/ld.so.preload`,
      readOnly: true,
      source: "file",
    },
  ];
  return { envs, mounts };
}
