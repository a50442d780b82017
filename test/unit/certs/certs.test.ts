// Certificates are checked with node:crypto, an independent parser from node-forge that wrote them.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  checkRenewal,
  ensureLocalCerts,
  generateCA,
  generateServing,
} from "../../../src/certs/index.js";

const NOW = new Date("2026-01-01T00:00:00Z");
const DAY = 24 * 3600 * 1000;
const HOSTS = ["hami.kube-system.svc", "127.0.0.1", "localhost"];
const ca = generateCA({ commonName: "test-ca", now: NOW });
const serving = generateServing(ca, { hosts: HOSTS, now: NOW });

describe("certs - generated chain", () => {
  const caCert = new X509Certificate(ca.cert);
  const cert = new X509Certificate(serving.cert);

  it("CA is a CA, self-signed, valid 10 years", () => {
    assert.equal(caCert.ca, true);
    assert.ok(caCert.verify(caCert.publicKey));
    assert.equal(caCert.subject, "CN=test-ca");
    const years = (new Date(caCert.validTo).getTime() - NOW.getTime()) / (365 * DAY);
    assert.ok(years > 9.9 && years < 10.1, String(years));
  });

  it("serving cert is signed by the CA, not a CA, with DNS and IP SANs and serverAuth", () => {
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(
      cert.subjectAltName,
      "DNS:hami.kube-system.svc, IP Address:127.0.0.1, DNS:localhost",
    );
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.ok(new Date(cert.validFrom).getTime() <= NOW.getTime());
    assert.equal(new Date(cert.validTo).getTime(), NOW.getTime() + 365 * DAY);
  });

  it("serial numbers are random", () => {
    const again = generateServing(ca, { hosts: HOSTS, now: NOW });
    assert.notEqual(new X509Certificate(again.cert).serialNumber, cert.serialNumber);
  });
});

describe("certs - renewal decision", () => {
  const input = { ca, serving, hosts: HOSTS };

  it("keeps valid certificates", () => {
    assert.deepEqual(checkRenewal({ ...input, now: NOW }), {
      keepCA: true,
      keepServing: true,
      reason: "valid",
    });
  });

  it("renews the serving cert within 30 days of expiry, keeping the CA", () => {
    const check = checkRenewal({ ...input, now: new Date(NOW.getTime() + 340 * DAY) });
    assert.equal(check.keepCA, true);
    assert.equal(check.keepServing, false);
    assert.match(check.reason, /expires/);
  });

  it("renews on SAN change, added or removed", () => {
    assert.equal(
      checkRenewal({ ...input, hosts: [...HOSTS, "extra.example"], now: NOW }).keepServing,
      false,
    );
    assert.equal(checkRenewal({ ...input, hosts: ["localhost"], now: NOW }).keepServing, false);
  });

  it("replaces everything when the CA is missing, expiring, or its key does not match", () => {
    assert.equal(checkRenewal({ hosts: HOSTS, now: NOW }).keepCA, false);
    assert.equal(
      checkRenewal({ ...input, now: new Date(NOW.getTime() + 3640 * DAY) }).keepCA,
      false,
    );
    assert.equal(
      checkRenewal({ ...input, ca: { cert: ca.cert, key: serving.key }, now: NOW }).keepCA,
      false,
    );
  });

  it("rejects a serving cert from another CA or with a foreign key", () => {
    const other = generateServing(generateCA({ commonName: "other", now: NOW }), {
      hosts: HOSTS,
      now: NOW,
    });
    assert.equal(checkRenewal({ ...input, serving: other, now: NOW }).keepServing, false);
    assert.equal(
      checkRenewal({ ...input, serving: { cert: serving.cert, key: ca.key }, now: NOW })
        .keepServing,
      false,
    );
  });
});

describe("certs - local files", () => {
  it("writes keys with mode 0600, keeps valid files, renews near expiry keeping the CA", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hami-certs-"));
    const first = await ensureLocalCerts({ dir, hosts: ["localhost"], now: NOW });
    assert.equal(first.keepCA, false);
    assert.equal((await stat(join(dir, "tls.key"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "ca.key"))).mode & 0o777, 0o600);
    const caBefore = await readFile(join(dir, "ca.crt"), "utf8");
    const certBefore = await readFile(join(dir, "tls.crt"), "utf8");
    assert.equal(
      (await ensureLocalCerts({ dir, hosts: ["localhost"], now: NOW })).keepServing,
      true,
    );
    assert.equal(await readFile(join(dir, "tls.crt"), "utf8"), certBefore);
    const later = await ensureLocalCerts({
      dir,
      hosts: ["localhost"],
      now: new Date(NOW.getTime() + 350 * DAY),
    });
    assert.deepEqual([later.keepCA, later.keepServing], [true, false]);
    assert.equal(await readFile(join(dir, "ca.crt"), "utf8"), caBefore);
    assert.notEqual(await readFile(join(dir, "tls.crt"), "utf8"), certBefore);
  });
});
