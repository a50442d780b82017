// Every `hami` subcommand as a process: --help and `hami help CMD` print that command's usage and
// exit 0; a bad flag, a missing file or an unknown command prints one line naming it, no stack
// trace, and exits non-zero; LOG_LEVEL=debug adds the stack.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runHami, type CliRun } from "../helpers/cli.js";

const COMMANDS = [
  "webhook",
  "certgen",
  "events",
  "scheduler",
  "explain",
  "node",
  "bench",
  "local",
  "status",
  "cordon",
  "uncordon",
];
const MISSING = "/nonexistent/hami-cli-test";

/** stderr without the structured log lines a command may write before it fails. */
const said = (run: CliRun): string[] =>
  run.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("{"));

function oneLine(run: CliRun, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  const lines = said(run);
  assert.equal(lines.length, 1, `one line, got:\n${run.stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
}

describe("hami CLI: help and user errors", () => {
  it("hami, hami --help: the commands, exit 0", async () => {
    for (const args of [[], ["--help"], ["help"]]) {
      const run = await runHami(args);
      assert.equal(run.code, 0, run.stderr);
      for (const command of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
    }
  });

  it("CMD --help prints that command's usage, exit 0; so do CMD -h and help CMD", async () => {
    const runs = [
      ...COMMANDS.map((command) => [command, "--help"]),
      ["node", "-h"],
      ["help", "node"],
    ];
    await Promise.all(
      runs.map(async (args) => {
        const run = await runHami(args);
        assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
        const command = args[0] === "help" ? args[1] : args[0];
        assert.match(run.stdout, new RegExp(`^usage: hami ${command ?? ""}`), args.join(" "));
        assert.equal(run.stderr, "");
      }),
    );
  });

  it("a bad flag: one line naming it and the command's --help, exit 2", async () => {
    await Promise.all(
      COMMANDS.map(async (command) => {
        const run = await runHami([command, "--bogus"]);
        oneLine(run, 2, new RegExp(`^hami ${command}: .*--bogus`));
      }),
    );
    oneLine(await runHami(["node", "--bogus"]), 2, /See 'hami node --help'\.$/);
  });

  it("an unknown command: one line, exit 2", async () => {
    oneLine(
      await runHami(["frobnicate"]),
      2,
      /^hami: unknown command 'frobnicate'\. See 'hami --help'\.$/,
    );
  });

  it("missing files: one line naming the path, exit non-zero", async () => {
    const cert = await runHami([
      "webhook",
      "--tls-cert",
      MISSING,
      "--tls-key",
      MISSING,
      "--port",
      "0",
    ]);
    oneLine(cert, 1, new RegExp(`^hami webhook: ENOENT.*${MISSING}`));
    // A config error lists every problem, one per line after the file's name.
    const config = await runHami(["scheduler", "--config", MISSING, "--port", "0"]);
    assert.equal(config.code, 2);
    assert.match(config.stderr, new RegExp(`^hami scheduler: invalid configuration in ${MISSING}`));
    assert.doesNotMatch(config.stderr, /\n\s+at /);
    const kubeconfig = await runHami(["status", "--kubeconfig", MISSING]);
    oneLine(kubeconfig, 2, new RegExp(`^hami status: .*${MISSING}`));
  });

  it("LOG_LEVEL=debug adds the stack trace", async () => {
    const run = await runHami(
      ["webhook", "--tls-cert", MISSING, "--tls-key", MISSING, "--port", "0"],
      {
        LOG_LEVEL: "debug",
      },
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\n\s+at /);
  });
});
