// The node agent's writes about its node: the register annotation (HAMi encoding) plus the time it
// was written, and the agent Lease `hami-agent-<node>` that tells the scheduler the agent is alive.
// The agent is the only writer of both.

import {
  CoordinationV1Api,
  CoreV1Api,
  V1MicroTime,
  type KubeConfig,
} from "@kubernetes/client-node";
import { AGENT_LEASE_PREFIX, Annotation, encodeNodeDevices, type Device } from "../core/index.js";
import { isStatus, MERGE_PATCH } from "../k8s/index.js";

export interface Registrar {
  /** Writes the register annotation (always: its time is the agent's registration heartbeat),
   * with the agent's other node annotations (hami.io/node-settings, hami.io/node-nvidia-score). */
  register(devices: readonly Device[], extra?: Readonly<Record<string, string>>): Promise<void>;
  renewLease(): Promise<void>;
  /** Deletes the Lease: the scheduler stops placing pods here at once, not when it expires. */
  releaseLease(): Promise<void>;
}

export function registrar(
  kc: KubeConfig,
  options: { node: string; leaseNamespace: string; leaseSeconds: number; clock: () => Date },
): Registrar {
  const core = kc.makeApiClient(CoreV1Api);
  const leases = kc.makeApiClient(CoordinationV1Api);
  const name = `${AGENT_LEASE_PREFIX}${options.node}`;
  const namespace = options.leaseNamespace;
  return {
    register: async (devices, extra = {}) => {
      const annotations: Record<string, string> = {
        ...extra,
        [Annotation.nodeRegister]: encodeNodeDevices(devices),
        [Annotation.nodeRegisterTime]: options.clock().toISOString(),
      };
      await core.patchNode(
        { name: options.node, body: { metadata: { annotations } } },
        MERGE_PATCH,
      );
    },
    renewLease: async () => {
      const spec = {
        holderIdentity: options.node,
        leaseDurationSeconds: options.leaseSeconds,
        renewTime: new V1MicroTime(options.clock().getTime()),
      };
      try {
        await leases.patchNamespacedLease({ name, namespace, body: { spec } }, MERGE_PATCH);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        await leases.createNamespacedLease({ namespace, body: { metadata: { name }, spec } });
      }
    },
    releaseLease: async () => {
      try {
        await leases.deleteNamespacedLease({ name, namespace });
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    },
  };
}
