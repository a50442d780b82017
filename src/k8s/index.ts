// Public surface of k8s: client construction and API error helpers.

export { isStatus, K8sConfigError, loadKubeConfig, retryOnConflict } from "./client.js";
