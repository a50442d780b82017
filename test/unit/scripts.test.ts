// The project's shell scripts run under `set -o pipefail`. There, `producer | head -1` fails at
// random: head exits after one line, the producer's next write gets SIGPIPE and the pipeline's
// status is 141. That ended a CI run after 66 s (`busybox | head -1` in the image build).
// Readers that stop early are refused here; `sed -n 1p` reads to the end and is safe.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");
const SKIP = new Set(["node_modules", ".git", ".cluster-bin", "dist"]);

function shellScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIP.has(entry.name) ? [] : shellScripts(path);
    return entry.name.endsWith(".sh") || relative(ROOT, path) === ".ci/run" ? [path] : [];
  });
}

const EARLY_EXIT = /\|\s*(head\b|grep\s+(-\w*[qm]\w*|--quiet|--max-count))/;

describe("shell scripts", () => {
  const scripts = shellScripts(ROOT);

  it("finds the CI entry point and the cluster build", () => {
    const names = scripts.map((f) => relative(ROOT, f));
    assert.ok(names.includes(".ci/run"), names.join(", "));
    assert.ok(names.includes("test/cluster/build.sh"), names.join(", "));
  });

  it("under pipefail, no pipeline ends in a reader that stops early (SIGPIPE, exit 141)", () => {
    const offenders = scripts.flatMap((file) => {
      const text = readFileSync(file, "utf8");
      if (!/set -\w*o pipefail|set -o pipefail/.test(text)) return [];
      return text
        .split("\n")
        .map((line, i) => ({ line, at: `${relative(ROOT, file)}:${i + 1}` }))
        .filter(({ line }) => !line.trimStart().startsWith("#") && EARLY_EXIT.test(line))
        .map(({ line, at }) => `${at}: ${line.trim()}`);
    });
    assert.deepEqual(offenders, []);
  });
});
