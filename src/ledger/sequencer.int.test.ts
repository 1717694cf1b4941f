import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import { Ledger } from "./ledger.js";
import { canonicalBytes } from "./entry/canonical-entry.js";
import { TEMPLATE_PREV } from "./entry/entry-template.js";
import type { OperationRecord, RecordInput } from "./entry/operation-record.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const note = (n: number): RecordInput => ({
  type: "note",
  time: "2026-01-01T00:00:00.000Z",
  actor: { id: "test", role: "system" },
  institution: "-",
  outcome: "success",
  source: { observer: "node-1" },
  data: { n },
});

describe("LocalSequencer with two writers on one file", () => {
  it("when another connection appended meanwhile → reloads the head and appends after it, chain intact", async () => {
    dir = await mkdtemp(join(tmpdir(), "kenshin-seq-"));
    const path = join(dir, "ledger.db");
    createSqliteLog({ path, origin: "test/log", verifierKey: "test+00000000+AA==" }).close();
    const a = new Ledger({ storage: openSqliteLog(path) });
    const b = new Ledger({ storage: openSqliteLog(path) });
    await a.append([{ record: note(0) }]);
    await b.append([{ record: note(1) }]); // b loaded before a appended: its head is stale
    const [third] = await a.append([{ record: note(2) }]);
    expect(third?.index).toBe(2);
    a.close();
    b.close();
    const check = new Ledger({ storage: openSqliteLog(path) });
    expect(check.storage.size()).toBe(3);
    const prevOf = (i: number) =>
      (JSON.parse(new TextDecoder().decode(check.entry(i))) as { prev: string }).prev;
    expect(prevOf(1)).toBe(check.inclusionProof(0, 3).leafHash);
    expect(prevOf(2)).toBe(check.inclusionProof(1, 3).leafHash);
    check.close();
  });
});

describe("a record that holds the entry-template placeholder elsewhere", () => {
  it("gets no template and is still written as the canonical bytes of the record with its prev", async () => {
    dir = await mkdtemp(join(tmpdir(), "kenshin-seq-"));
    const ledger = new Ledger({
      storage: createSqliteLog({
        path: join(dir, "ledger.db"),
        origin: "test/log",
        verifierKey: "test+00000000+AA==",
      }),
    });
    const odd: RecordInput = { ...note(1), data: { text: TEMPLATE_PREV } } as RecordInput;
    const [first, second] = await ledger.append([{ record: note(0) }, { record: odd }]);
    const expected = canonicalBytes({ ...odd, v: 1, prev: first?.leafHash } as OperationRecord);
    expect(Buffer.from(ledger.entry(second?.index ?? -1)).equals(Buffer.from(expected))).toBe(true);
    ledger.close();
  });
});
