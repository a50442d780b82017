// Checks each Allocate answer against the kubelet's PodResources API: the kubelet records which
// container it gave the device IDs to right after Allocate returns, so a few short retries find it.
// A mismatch is reported (never silent); a kubelet without the API leaves the answer unverified.

import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { checkServed, type Holder, type ServedContainer } from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import { podResourcesClient, type PodResourcesClient } from "./podresources-api.js";

export type VerifyResult = "match" | "mismatch" | "unverified";

export interface VerifierOptions {
  socket: string;
  log: Logger;
  onResult: (served: ServedContainer, result: VerifyResult, holders: Holder[]) => Promise<void>;
  /** Waits before each PodResources read (default about 4 s in all). */
  delaysMs?: number[];
}

const DELAYS_MS = [20, 80, 200, 500, 1_000, 2_000];

export class AllocationVerifier {
  private readonly options: VerifierOptions;
  private client: PodResourcesClient | undefined;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(options: VerifierOptions) {
    this.options = options;
  }

  /** Starts checking in the background; Allocate never waits for it. */
  check(served: ServedContainer): void {
    const run = this.run(served)
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, "allocation check failed");
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
    this.client?.close();
  }

  private async run(served: ServedContainer): Promise<void> {
    const { log, socket } = this.options;
    let why = `the kubelet has no PodResources socket at ${socket}`;
    if (existsSync(socket)) {
      this.client ??= podResourcesClient(socket);
      why = "the kubelet did not list the devices in time";
      for (const delay of this.options.delaysMs ?? DELAYS_MS) {
        await sleep(delay);
        if (this.closed) return;
        const listing = await this.client.list().catch((error: unknown) => {
          why = `PodResources List failed: ${error instanceof Error ? error.message : String(error)}`;
          return undefined;
        });
        if (listing === undefined) continue;
        const verdict = checkServed(served, listing.pod_resources);
        if (verdict.kind === "pending") continue;
        const holders = verdict.kind === "mismatch" ? verdict.holders : [];
        await this.options.onResult(served, verdict.kind, holders);
        return;
      }
    }
    log.warn(
      { pod: `${served.namespace}/${served.name}`, container: served.container, reason: why },
      "allocation not verified",
    );
    await this.options.onResult(served, "unverified", []);
  }
}
