// Hot reload of the config file (a ConfigMap volume): a valid new version replaces the old one, an
// invalid one is reported and the running config stays.

import { watch } from "node:fs";
import { dirname } from "node:path";
import { loadConfigFile, type LoadedConfig } from "./load.js";

export interface ConfigWatcherOptions {
  path: string;
  onChange: (loaded: LoadedConfig) => void;
  onError: (error: unknown) => void;
}

/** Watches the file's directory (ConfigMap volumes swap a symlink); returns a stop function. */
export function watchConfigFile(options: ConfigWatcherOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  let lastText = "";
  const reload = (): void => {
    loadConfigFile(options.path)
      .then((loaded) => {
        const text = JSON.stringify(loaded.config);
        if (text === lastText) return;
        lastText = text;
        options.onChange(loaded);
      })
      .catch(options.onError);
  };
  const watcher = watch(dirname(options.path), () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 200);
  });
  watcher.on("error", options.onError);
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
