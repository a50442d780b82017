export { NodeAgent, PLUGIN_SOCKET } from "./agent.js";
export { migProfiles, offered, toDevices, visibleDevices } from "./offer.js";
export type { MigAllowlistEntry, Offer } from "./offer.js";
export {
  migInstancesOf,
  parseGpuInstanceProfiles,
  parseGpuInstances,
  parseMigDevices,
} from "./mig-discovery.js";
export type { MigInstance } from "./mig-discovery.js";
export type { AgentOptions, AgentSettings } from "./agent.js";
export { Allocator } from "./allocator.js";
export type { AllocatorDeps } from "./allocator.js";
export { ServedLog } from "./served-log.js";
export type { ServedRecord } from "./served-log.js";
export * from "./device-plugin-api.js";
export {
  DeviceFileError,
  deviceType,
  fileSource,
  mockDeviceFileSchema,
  NVIDIA_SMI_FIELDS,
  nvidiaSmiSource,
  parseNvidiaSmi,
  parseNvidiaSmiUsage,
  sysfsBusId,
} from "./discovery.js";
export type { DeviceSource, DiscoveredGpu, ParsedSmi } from "./discovery.js";
export { AllocateError, DevicePluginServer, virtualDevices } from "./plugin.js";
export type { PluginOptions } from "./plugin.js";
export { registrar } from "./registration.js";
export type { Registrar } from "./registration.js";
export * from "./podresources-api.js";
export { MAX_CONTAINER_DIRS, NodeMonitor } from "./monitor.js";
export type { MonitorOptions } from "./monitor.js";
export { parseNvidiaSmiTopo } from "./topology.js";
