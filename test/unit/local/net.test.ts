import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freePort } from "../../../src/local/index.js";

describe("local harness - free ports", () => {
  it("never hands out the same port twice (the OS offers just-closed ports again)", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 500; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length);
  });
});
