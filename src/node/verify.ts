// Checks each Allocate answer against the kubelet's PodResources API: the kubelet records which
// container it gave the device IDs to right after Allocate returns, so a few short retries find it.
// A mismatch is reported (never silent); a kubelet without the API leaves the answer unverified.
//
// Get, for the served pod only, never List: the kubelet's List first frees the devices of pods
// that ended (UpdateAllocatedDevices in pkg/kubelet/apis/podresources/server_v1.go), and that
// rebuilds its set of devices in use from the recorded allocations alone, dropping the devices of
// an Allocate still in flight (pkg/kubelet/cm/devicemanager/manager.go, v1.36.3: marked in use in
// devicesToAllocate, recorded only after the RPC returns). The next pod can then be given the same
// device ID. Reading List after each answer did that on the real node. Get (beta and on by default
// since Kubernetes 1.34, GA in 1.36) only reads.

import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { checkServed, type Holder, type ServedContainer } from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import { podResourcesClient, type PodResourcesClient } from "./podresources-api.js";

export type VerifyResult = "match" | "mismatch" | "unverified";

/** What a mismatch found: the IDs the kubelet gave the served container, and whom the agent
 * answered for those IDs (undefined when no answer it remembers had them). */
export interface Found {
  held: string[];
  answeredFor?: Holder;
}

export interface VerifierOptions {
  socket: string;
  log: Logger;
  onResult: (served: ServedContainer, result: VerifyResult, found?: Found) => Promise<void>;
  /** Waits before each PodResources read (default about 30 s in all). */
  delaysMs?: number[];
}

/** Most answers are found at the first read. A container given another's answer shows it only once
 * the kubelet has allocated that container itself, which may come later on a busy node: keep
 * asking for about 30 s before calling the answer unverified. */
const DELAYS_MS = [20, 80, 200, 500, 1_000, 2_000, 4_000, 8_000, 15_000];
/** Answers remembered to name whose answer a mismatched container got. */
const HISTORY = 4_096;

const NO_GET =
  "the kubelet does not serve PodResources Get (on by default from Kubernetes 1.34; before, " +
  "feature gate KubeletPodResourcesGet); List is not read: it frees devices of Allocates in flight";

/** A kubelet without Get answers Unimplemented (before 1.27) or says the method is disabled. */
function getMissing(error: unknown): boolean {
  const { code, message } = error as { code?: number; message?: string };
  return code === status.UNIMPLEMENTED || /Get method disabled/i.test(message ?? "");
}

export class AllocationVerifier {
  private readonly options: VerifierOptions;
  private client: PodResourcesClient | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly answers: ServedContainer[] = [];
  /** Aborts the waits between reads on close. */
  private readonly closing = new AbortController();

  constructor(options: VerifierOptions) {
    this.options = options;
  }

  /** Starts checking in the background; Allocate never waits for it. */
  check(served: ServedContainer): void {
    this.answers.push(served);
    if (this.answers.length > HISTORY) this.answers.shift();
    const run = this.run(served)
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, "allocation check failed");
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.running]);
    this.client?.close();
  }

  /** The latest answer that had any of `held`. */
  private answeredFor(held: readonly string[]): Holder | undefined {
    const answer = this.answers.findLast((a) => a.deviceIds.some((id) => held.includes(id)));
    return answer === undefined
      ? undefined
      : { namespace: answer.namespace, name: answer.name, container: answer.container };
  }

  private async run(served: ServedContainer): Promise<void> {
    const { log, socket } = this.options;
    let why = `the kubelet has no PodResources socket at ${socket}`;
    if (existsSync(socket)) {
      this.client ??= podResourcesClient(socket);
      const late = "the kubelet did not list the devices in time";
      why = late;
      for (const delay of this.options.delaysMs ?? DELAYS_MS) {
        const waited = await sleep(delay, true, { signal: this.closing.signal }).catch(() => false);
        if (!waited) return;
        const pod = await this.client.get(served.namespace, served.name).catch((error: unknown) => {
          why = getMissing(error)
            ? NO_GET
            : `PodResources Get failed: ${error instanceof Error ? error.message : String(error)}`;
          return undefined;
        });
        if (why === NO_GET) break;
        if (pod === undefined) continue;
        why = late;
        const verdict = checkServed(served, pod);
        if (verdict.kind === "pending") continue;
        const found =
          verdict.kind === "mismatch"
            ? { held: verdict.held, answeredFor: this.answeredFor(verdict.held) }
            : undefined;
        await this.options.onResult(served, verdict.kind, found);
        return;
      }
    }
    log.warn(
      { pod: `${served.namespace}/${served.name}`, container: served.container, reason: why },
      "allocation not verified",
    );
    await this.options.onResult(served, "unverified");
  }
}
