// Checks each Allocate answer against the kubelet's PodResources API: the kubelet records which
// container it gave the device IDs to right after Allocate returns, so a few short retries find it.
// A mismatch is reported (never silent); a kubelet without the API leaves the answer unverified.
// The kubelet gives a finished pod's device IDs to the next pod: another container listing them is
// no mismatch when this agent served it those IDs itself, after the answer checked.

import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { checkServed, type Holder, type ServedContainer, type ServedLater } from "../core/index.js";
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
/** Answers remembered to explain reissued IDs: far more than are checked within the ~4 s window. */
const HISTORY = 4_096;

interface Answer {
  seq: number;
  holder: string;
  ids: ReadonlySet<string>;
}

const key = (h: { namespace: string; name: string; container: string }): string =>
  `${h.namespace}/${h.name}/${h.container}`;

export class AllocationVerifier {
  private readonly options: VerifierOptions;
  private client: PodResourcesClient | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly answers: Answer[] = [];
  private seq = 0;
  private closed = false;

  constructor(options: VerifierOptions) {
    this.options = options;
  }

  /** Starts checking in the background; Allocate never waits for it. */
  check(served: ServedContainer): void {
    const seq = ++this.seq;
    this.answers.push({ seq, holder: key(served), ids: new Set(served.deviceIds) });
    if (this.answers.length > HISTORY) this.answers.shift();
    const run = this.run(served, (holder, ids) =>
      this.answers.some(
        (a) => a.seq > seq && a.holder === key(holder) && ids.some((id) => a.ids.has(id)),
      ),
    )
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

  private async run(served: ServedContainer, servedLater: ServedLater): Promise<void> {
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
        const verdict = checkServed(served, listing.pod_resources, servedLater);
        if (verdict.kind === "pending") continue;
        if (verdict.kind === "reissued") {
          why = `the pod ended and the kubelet gave its devices to ${verdict.holders.map(key).join(", ")}`;
          break;
        }
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
