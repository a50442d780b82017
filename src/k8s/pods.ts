// The pod writes hami components make, as small typed calls: annotate with a resourceVersion
// precondition (a merge patch carrying metadata.resourceVersion is a compare-and-swap; a 409 becomes
// ConflictError), bind (with annotations, in the same write), and record a pod Event (queued, off
// the caller's path); and the order hami lists a pod's containers in. No decisions here.

import { CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { ConflictError, isStatus, MERGE_PATCH } from "./client.js";
import { EventQueue } from "./event-queue.js";

export interface PodEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface PodApi {
  readPod(namespace: string, name: string): Promise<V1Pod>;
  /** Sets (string) or removes (null) annotations; only if the pod is still at `resourceVersion`
   * when one is given; a uid makes the patch fail (409/422) on another pod of the same name. */
  annotatePod(
    pod: { namespace: string; name: string; resourceVersion?: string; uid?: string },
    annotations: Record<string, string | null>,
  ): Promise<V1Pod>;
  /** Binds the pod and sets `annotations` in the same write; only if the pod is still at
   * `resourceVersion` when one is given, unbound and not being deleted (else ConflictError). */
  bindPod(
    pod: { namespace: string; name: string; uid: string; resourceVersion?: string },
    node: string,
    annotations?: Record<string, string>,
  ): Promise<void>;
  /** Settles once written; rejects with EventQueueFull when too many wait (event-queue.ts). */
  recordEvent(pod: V1Pod, event: PodEvent, component: string): Promise<void>;
}

export function podApi(kc: KubeConfig): PodApi {
  const core = kc.makeApiClient(CoreV1Api);
  const events = new EventQueue();
  return {
    readPod: (namespace, name) => core.readNamespacedPod({ namespace, name }),
    annotatePod: async ({ namespace, name, resourceVersion, uid }, annotations) => {
      try {
        return await core.patchNamespacedPod(
          {
            namespace,
            name,
            body: {
              metadata: {
                ...(resourceVersion === undefined ? {} : { resourceVersion }),
                ...(uid === undefined ? {} : { uid }),
                annotations,
              },
            },
          },
          MERGE_PATCH,
        );
      } catch (error) {
        if (isStatus(error, 409))
          throw new ConflictError(
            `pod ${namespace}/${name} changed since resourceVersion ${resourceVersion}`,
          );
        throw error;
      }
    },
    // kube-apiserver's binding subresource sets spec.nodeName and merges the Binding's annotations
    // in one update, with its uid and resourceVersion as preconditions; a pod already bound or being
    // deleted is a 409 too (pkg/registry/core/pod/storage/storage.go, BindingREST, v1.36).
    bindPod: async ({ namespace, name, uid, resourceVersion }, node, annotations) => {
      try {
        await core.createNamespacedPodBinding({
          namespace,
          name,
          body: {
            metadata: {
              name,
              uid,
              ...(resourceVersion === undefined ? {} : { resourceVersion }),
              ...(annotations === undefined ? {} : { annotations }),
            },
            target: { kind: "Node", apiVersion: "v1", name: node },
          },
        });
      } catch (error) {
        if (isStatus(error, 409))
          throw new ConflictError(
            `pod ${namespace}/${name} changed since resourceVersion ${resourceVersion}, or is bound or being deleted`,
          );
        throw error;
      }
    },
    recordEvent: (pod, event, component) => {
      const now = new Date();
      const namespace = pod.metadata?.namespace ?? "default";
      return events.push(async () => {
        await core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${pod.metadata?.name ?? "pod"}.` },
            involvedObject: {
              kind: "Pod",
              apiVersion: "v1",
              namespace,
              name: pod.metadata?.name,
              uid: pod.metadata?.uid,
              resourceVersion: pod.metadata?.resourceVersion,
            },
            type: event.type,
            reason: event.reason,
            message: event.message,
            source: { component },
            reportingComponent: component,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      });
    },
  };
}

/** A pod's containers in the order of HAMi's device annotations: init containers, then app ones. */
export function containersInDeviceOrder(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}
