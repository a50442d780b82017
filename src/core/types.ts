// The slice of the Kubernetes Pod that hami decisions read and write. Objects keep every other
// field untouched (index signatures), so a mutation never loses data it does not understand.

export type QuantityValue = string | number;
export type ResourceList = Record<string, QuantityValue>;

export interface EnvVar {
  name: string;
  value?: string;
  [field: string]: unknown;
}

export interface Container {
  name: string;
  resources?: { limits?: ResourceList; requests?: ResourceList; [field: string]: unknown };
  env?: EnvVar[];
  securityContext?: { privileged?: boolean; [field: string]: unknown };
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  schedulerName?: string;
  nodeName?: string;
  runtimeClassName?: string;
  [field: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: PodSpec;
  [field: string]: unknown;
}

/** Names of the extended resources, from config (HAMi's defaults are nvidia.com/...). */
export interface ResourceNames {
  count: string;
  memory: string;
  memoryPercentage: string;
  cores: string;
  priority: string;
}

/** A container's GPU request as written by the user, validated; absent fields were not given. */
export interface ContainerGPURequest {
  count?: number;
  memoryMiB?: number;
  memoryPercentage?: number;
  cores?: number;
  priority?: number;
}
