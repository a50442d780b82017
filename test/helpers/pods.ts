// Pod fixtures for tests: each call returns a fresh object, so no test can alter another's input.

import type { Container, MutatePolicy, Pod } from "../../src/core/index.js";
import { defaultConfig, mutatePolicy } from "../../src/config/index.js";

export function container(
  name: string,
  limits: Record<string, string> = {},
  extra: Partial<Container> = {},
): Container {
  return { name, image: "cuda:12", resources: { limits: { ...limits } }, ...extra };
}

export interface PodOptions {
  containers?: Container[];
  initContainers?: Container[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  schedulerName?: string;
  nodeName?: string;
}

export function pod(options: PodOptions = {}): Pod {
  const result: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "gpu-pod", namespace: "default" },
    spec: {
      schedulerName: options.schedulerName ?? "default-scheduler",
      containers: options.containers ?? [container("main", { "nvidia.com/gpu": "1" })],
      restartPolicy: "Never",
    },
  };
  if (options.initContainers) result.spec.initContainers = options.initContainers;
  if (options.nodeName !== undefined) result.spec.nodeName = options.nodeName;
  if (options.annotations) result.metadata!.annotations = { ...options.annotations };
  if (options.labels) result.metadata!.labels = { ...options.labels };
  return result;
}

export function policy(overrides: Partial<MutatePolicy> = {}): MutatePolicy {
  return { ...mutatePolicy(defaultConfig()), ...overrides };
}

/** An AdmissionReview v1 for creating the pod, as the apiserver sends it. */
export function review(
  object: unknown,
  uid = "req-1",
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace: "default",
      object,
      ...extra,
    },
  };
}
