// Kubernetes' own rules for the names hami reads from the network and may put in host paths, log
// lines or NATS subjects: a pod uid is a UUID, container names and namespaces are DNS-1123 labels.

export const POD_UID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
