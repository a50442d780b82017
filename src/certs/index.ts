// Public surface of certs: generation, renewal checks and file handling.

export {
  DEFAULT_CA_DAYS,
  DEFAULT_KEY_BITS,
  DEFAULT_SERVING_DAYS,
  generateCA,
  generateClient,
  generateServing,
} from "./generate.js";
export type { CAOptions, ClientOptions, PemPair, ServingOptions } from "./generate.js";
export { checkRenewal, DEFAULT_RENEW_BEFORE_DAYS } from "./inspect.js";
export type { LeafRequest, RenewalCheck, RenewalInput } from "./inspect.js";
export { ensureLocalCerts, FILE_NAMES, watchCertificates } from "./files.js";
export { CA_COMMON_NAME, renewCertificates } from "./renew.js";
export type { RenewOptions, RenewResult, StoredCertificates } from "./renew.js";
export type {
  CertWatcher,
  CertWatcherOptions,
  LocalCertsOptions,
  LocalCertsResult,
} from "./files.js";
