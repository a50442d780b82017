// The configuration file a long-running command follows: loaded at start (errors stop the start),
// reloaded on change (an invalid new version is logged and the running one kept), warnings logged.

import {
  defaultConfig,
  loadConfigFile,
  watchConfigFile,
  type Config,
  type LoadedConfig,
} from "../config/index.js";
import type { Logger } from "../telemetry/index.js";

export interface LiveConfig {
  current(): Config;
  stop(): void;
}

export async function liveConfig(
  path: string | undefined,
  log: Logger,
  onReload: (config: Config) => void = () => undefined,
): Promise<LiveConfig> {
  const warn = (loaded: LoadedConfig): void => {
    for (const warning of loaded.warnings) log.warn({ source: path }, warning);
  };
  if (path === undefined) {
    const config = defaultConfig();
    return { current: () => config, stop: () => undefined };
  }
  const loaded = await loadConfigFile(path);
  warn(loaded);
  let config = loaded.config;
  const stop = watchConfigFile({
    path,
    onChange: (next) => {
      config = next.config;
      warn(next);
      onReload(config);
      log.info({ config }, "configuration reloaded");
    },
    onError: (error) => {
      log.error({ err: error }, "configuration reload failed, keeping the running config");
    },
  });
  return { current: () => config, stop };
}
