// Hot reload: watching mounted files (ConfigMap and Secret volumes) and the config file itself.
// A valid new config replaces the old one; an invalid one is reported and the running config stays.

import { watch } from "node:fs";
import { dirname } from "node:path";
import { loadConfigFile, type LoadedConfig } from "./load.js";

export interface DirectoryWatchOptions {
  /** Files whose directories are watched: Kubernetes volumes swap a `..data` symlink, so the files
   *  themselves never emit events. */
  paths: string[];
  /** Called once per burst of changes, `debounceMs` after the last one. */
  onChange: () => void;
  onError: (error: unknown) => void;
  debounceMs: number;
}

/** Watches the directories holding `paths`; returns a stop function. */
export function watchDirectories(options: DirectoryWatchOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const debounced = (): void => {
    clearTimeout(timer);
    timer = setTimeout(options.onChange, options.debounceMs);
  };
  const dirs = [...new Set(options.paths.map((path) => dirname(path)))];
  const watchers = dirs.map((dir) => watch(dir, debounced));
  for (const watcher of watchers) watcher.on("error", options.onError);
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}

export interface ConfigWatcherOptions {
  path: string;
  onChange: (loaded: LoadedConfig) => void;
  onError: (error: unknown) => void;
}

/** Reloads the config file when its directory changes; returns a stop function. */
export function watchConfigFile(options: ConfigWatcherOptions): () => void {
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
  return watchDirectories({
    paths: [options.path],
    onChange: reload,
    onError: options.onError,
    debounceMs: 200,
  });
}
