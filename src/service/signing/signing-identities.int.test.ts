/**
 * The node's signing identities on first use: concurrent first uses (a burst of sends on a fresh node —
 * found by test/cluster/service-sequencer-kill, where one send of the burst got a 500 from the loser of
 * a rename race) share one issuance: every caller gets the same key and certificate, and they are the
 * ones on disk.
 */
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "../../../test/support/test-node.js";
import { sealIdentity, tsaIdentity } from "./signing-identities.js";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.close();
});

describe("signing identities", () => {
  it("concurrent first uses share one issuance", async () => {
    const paths = node.ctx.paths;
    expect(existsSync(paths.sealKey)).toBe(false);
    const seals = await Promise.all(Array.from({ length: 8 }, () => sealIdentity(node.ctx)));
    const tsas = await Promise.all(Array.from({ length: 8 }, () => tsaIdentity(node.ctx)));
    expect(new Set(seals.map((s) => s.certPem)).size).toBe(1);
    expect(new Set(tsas.map((s) => s.certPem)).size).toBe(1);
    expect(readFileSync(paths.sealCert, "utf8")).toBe(seals[0]?.certPem);
    expect(readFileSync(paths.tsaCert, "utf8")).toBe(tsas[0]?.certPem);
    expect(existsSync(`${paths.sealKey}.new`)).toBe(false);
  });
});
