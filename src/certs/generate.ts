// CA and serving certificates with node-forge: RSA keys, SHA-256 signatures, random serials, and
// the extensions both Node's TLS and Go's crypto/x509 (the apiserver) insist on.

import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export const DEFAULT_KEY_BITS = 2048;
export const DEFAULT_CA_DAYS = 3650; // 10 years: the caBundle in webhook configs rarely changes
export const DEFAULT_SERVING_DAYS = 365; // 1 year, renewed 30 days before expiry

export interface PemPair {
  cert: string;
  key: string;
}

export interface CAOptions {
  commonName: string;
  now: Date;
  days?: number;
  keyBits?: number;
}

export interface ServingOptions {
  /** DNS names and IP addresses; the first is also the subject common name. */
  hosts: string[];
  now: Date;
  days?: number;
  keyBits?: number;
}

const DAY_MS = 24 * 3600 * 1000;
// Backdate a little so a node whose clock is slightly behind still accepts a fresh certificate.
const BACKDATE_MS = 5 * 60 * 1000;

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive, as RFC 5280 requires
  return bytes.toString("hex");
}

function newCertificate(
  publicKey: forge.pki.PublicKey,
  now: Date,
  days: number,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  return cert;
}

export function generateCA(options: CAOptions): PemPair {
  const keys = forge.pki.rsa.generateKeyPair({ bits: options.keyBits ?? DEFAULT_KEY_BITS });
  const cert = newCertificate(keys.publicKey, options.now, options.days ?? DEFAULT_CA_DAYS);
  const subject = [{ name: "commonName", value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

function altNames(hosts: string[]): { type: number; value?: string; ip?: string }[] {
  return hosts.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host }));
}

interface LeafSpec {
  subject: { name: string; value: string }[];
  /** The usage-specific extensions; basicConstraints, keyUsage and the key identifiers are common. */
  extensions: object[];
  now: Date;
  days?: number;
  keyBits?: number;
}

/** A non-CA certificate signed by the CA. */
function signLeaf(ca: PemPair, spec: LeafSpec): PemPair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = forge.pki.rsa.generateKeyPair({ bits: spec.keyBits ?? DEFAULT_KEY_BITS });
  const cert = newCertificate(keys.publicKey, spec.now, spec.days ?? DEFAULT_SERVING_DAYS);
  cert.setSubject(spec.subject);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    ...spec.extensions,
    { name: "subjectKeyIdentifier" },
    {
      name: "authorityKeyIdentifier",
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export function generateServing(ca: PemPair, options: ServingOptions): PemPair {
  const [first] = options.hosts;
  if (first === undefined) throw new Error("a serving certificate needs at least one host");
  return signLeaf(ca, {
    ...options,
    subject: [{ name: "commonName", value: first }],
    extensions: [
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: altNames(options.hosts) },
    ],
  });
}

export interface ClientOptions {
  commonName: string;
  /** Subject organizations: Kubernetes reads them as groups (e.g. system:masters). */
  organizations?: string[];
  now: Date;
  days?: number;
  keyBits?: number;
}

/** A client-auth certificate signed by the CA (Kubernetes maps CN to user, O to groups). */
export function generateClient(ca: PemPair, options: ClientOptions): PemPair {
  const organizations = (options.organizations ?? []).map((value) => ({
    name: "organizationName",
    value,
  }));
  return signLeaf(ca, {
    ...options,
    subject: [...organizations, { name: "commonName", value: options.commonName }],
    extensions: [{ name: "extKeyUsage", clientAuth: true }],
  });
}
