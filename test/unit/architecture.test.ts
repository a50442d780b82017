// Enforces DESIGN.md section 7: each src module imports only modules of lower layers, through
// their index.ts, and the file import graph has no cycles.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const SRC = resolve(import.meta.dirname, "../../src");
const LAYERS: Record<string, number> = {
  core: 0,
  config: 1,
  telemetry: 2,
  events: 3,
  certs: 3,
  k8s: 3,
  webhook: 4,
  scheduler: 4,
  node: 4,
  sim: 4,
  local: 5,
  cli: 6,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]!);
  return specifiers.map((specifier) => resolve(dirname(file), specifier).replace(/\.js$/, ".ts"));
}

function moduleOf(file: string): string {
  return relative(SRC, file).split("/")[0]!;
}

const files = sourceFiles(SRC);

describe("architecture - layers", () => {
  it("every src folder has a layer", () => {
    for (const file of files)
      assert.ok(moduleOf(file) in LAYERS, `${relative(SRC, file)} is in no layer`);
  });

  it("imports go down the layer table, to a module's index.ts, never to a sibling", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      for (const target of relativeImports(file)) {
        const to = moduleOf(target);
        if (to === from) continue;
        const where = `${relative(SRC, file)} -> ${relative(SRC, target)}`;
        if ((LAYERS[to] ?? 99) >= (LAYERS[from] ?? -1))
          violations.push(`${where}: ${to} is not below ${from}`);
        if (!target.endsWith(`/${to}/index.ts`))
          violations.push(`${where}: import ${to} through its index.ts`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it("core does no I/O: no node: imports, no env, clock or randomness", () => {
    for (const file of files.filter((f) => moduleOf(f) === "core")) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /from "node:/, relative(SRC, file));
      assert.doesNotMatch(
        text,
        /process\.env|Date\.now|new Date\(|Math\.random/,
        relative(SRC, file),
      );
    }
  });

  it("process.env is read only in config/load.ts and cli/", () => {
    const readers = files
      .filter((f) => readFileSync(f, "utf8").includes("process.env"))
      .map((f) => relative(SRC, f));
    assert.deepEqual(
      readers.filter((f) => f !== "config/load.ts" && !f.startsWith("cli/")),
      [],
    );
  });

  it("the vendor seam is airtight: only core/index.ts reaches core/nvidia/, and the generic fit, score and placement name no vendor", () => {
    const nvidia = join(SRC, "core/nvidia/");
    const reaching = files
      .filter((f) => moduleOf(f) === "core" && !f.startsWith(nvidia))
      .filter((f) => relativeImports(f).some((target) => target.startsWith(nvidia)))
      .map((f) => relative(SRC, f));
    assert.deepEqual(reaching, ["core/index.ts"]);
    for (const name of ["fit", "placement", "score", "fragmentation", "topology", "vendor"]) {
      const code = readFileSync(join(SRC, `core/${name}.ts`), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      assert.doesNotMatch(code, /nvidia|\bmig\b|MIG|HAMi-core/i, `core/${name}.ts`);
    }
  });

  it("the file import graph has no cycles", () => {
    const graph = new Map(files.map((file) => [file, relativeImports(file)]));
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push(
          [...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" -> "),
        );
        return;
      }
      state.set(file, "visiting");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
