// Public surface of config: schema, loading and the mapping onto core policies.

export {
  ConfigError,
  CONFIGMAP_KEYS,
  configFromConfigMapData,
  defaultConfig,
  describeIssues,
  loadConfigFile,
  parseConfig,
  readEnv,
} from "./load.js";
export type { EnvSettings, LoadedConfig, NatsEnv } from "./load.js";
export { mutatePolicy, placementPolicy, resourceNames } from "./policy.js";
export { watchConfigFile, watchDirectories } from "./watch.js";
export type { ConfigWatcherOptions, DirectoryWatchOptions } from "./watch.js";
export { configSchema } from "./schema.js";
export type { Config, NvidiaConfig, SchedulerConfig } from "./schema.js";
export {
  describeNodeSettings,
  NodeConfigError,
  nodeConfigFileSchema,
  nodeSettings,
  parseNodeConfig,
} from "./node-config.js";
export type {
  NodeConfigEntry,
  NodeConfigFile,
  NodeSettings,
  SettingSource,
} from "./node-config.js";
