// Certificates are checked with node:crypto, an independent parser from node-forge that wrote them.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  checkRenewal,
  ensureLocalCerts,
  generateCA,
  generateServing,
  renewCertificates,
  type LeafRequest,
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

describe("certs - further pairs under the same CA", () => {
  const leaves: Record<string, LeafRequest> = {
    nats: { usage: "server", hosts: ["hami-nats.kube-system.svc"] },
    "kube-scheduler": { usage: "client", commonName: "hami-kube-scheduler" },
  };
  const options = { hosts: HOSTS, now: NOW, leaves };
  const first = renewCertificates({}, options);
  assert.equal(first.changed, true);
  const stored = { ca: first.ca, serving: first.serving, leaves: first.leaves };

  it("issues a server pair with its SANs and a client pair with its CN and clientAuth only", () => {
    const caCert = new X509Certificate(first.ca.cert);
    const nats = new X509Certificate(first.leaves.nats!.cert);
    const client = new X509Certificate(first.leaves["kube-scheduler"]!.cert);
    assert.ok(nats.verify(caCert.publicKey) && client.verify(caCert.publicKey));
    assert.equal(nats.subjectAltName, "DNS:hami-nats.kube-system.svc");
    assert.deepEqual(nats.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.equal(client.subject, "CN=hami-kube-scheduler");
    assert.deepEqual(client.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  });

  it("keeps everything while valid, and adds a new pair keeping CA, serving and the others", () => {
    assert.equal(renewCertificates(stored, options).changed, false);
    const more = renewCertificates(stored, {
      ...options,
      leaves: { ...leaves, extra: { usage: "client", commonName: "x" } },
    });
    assert.equal(more.changed, true);
    assert.deepEqual(
      [more.ca, more.serving, more.leaves.nats, more.leaves["kube-scheduler"]],
      [first.ca, first.serving, first.leaves.nats, first.leaves["kube-scheduler"]],
    );
    assert.match(more.check.reason, /no extra certificate/);
  });

  it("renews a pair whose CN or SANs changed, or that expires soon, or that another CA signed", () => {
    const renamed = renewCertificates(stored, {
      ...options,
      leaves: { ...leaves, "kube-scheduler": { usage: "client", commonName: "other" } },
    });
    assert.equal(renamed.changed, true);
    assert.notEqual(renamed.leaves["kube-scheduler"]!.cert, first.leaves["kube-scheduler"]!.cert);
    assert.deepEqual(renamed.leaves.nats, first.leaves.nats);
    const later = renewCertificates(stored, {
      ...options,
      now: new Date(NOW.getTime() + 340 * DAY),
    });
    assert.equal(later.changed, true);
    assert.deepEqual(later.ca, first.ca);
    assert.notEqual(later.leaves.nats!.cert, first.leaves.nats!.cert);
    const foreign = renewCertificates(
      {
        ...stored,
        leaves: {
          ...stored.leaves,
          nats: generateServing(ca, { hosts: ["hami-nats.kube-system.svc"], now: NOW }),
        },
      },
      options,
    );
    assert.equal(foreign.changed, true);
    assert.match(foreign.check.reason, /nats certificate not signed by the CA/);
  });

  it("a new CA renews every pair", () => {
    const renewed = renewCertificates({ ...stored, ca: undefined }, options);
    assert.equal(renewed.changed, true);
    const caCert = new X509Certificate(renewed.ca.cert);
    for (const leaf of Object.values(renewed.leaves))
      assert.ok(new X509Certificate(leaf.cert).verify(caCert.publicKey));
  });
});

describe("certs - local files", () => {
  it("writes keys with mode 0600, keeps valid files, renews near expiry keeping the CA", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "hami-certs-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
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
