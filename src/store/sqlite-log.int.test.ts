import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { expectCode } from "../../test/ledger/expect-code.js";
import { conversionRequest, noteRecord, sha, uploadRecord } from "../../test/ledger/records.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner, type NoteSigner } from "../crypto/note-signer.js";
import { decodeEntry } from "../ledger/entry/canonical-entry.js";
import { fsck } from "../ledger/fsck.js";
import { Ledger } from "../ledger/ledger.js";
import { openCheckpoint } from "../ledger/verify/checkpoint.js";
import { verifyConsistency } from "../ledger/verify/consistency.js";
import { fromHex } from "../ledger/verify/encoding.js";
import { rfc6962Hasher } from "../ledger/verify/hash.js";
import { verifyInclusion } from "../ledger/verify/inclusion.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import { PAGE_BYTES } from "./sqlite-log-connection.js";
import { createSqliteLog, nodeKey, openSqliteLog } from "./sqlite-log.js";

let path: string;
let signer: NoteSigner;

function newLedger(): Ledger {
  return new Ledger({
    storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
  });
}

beforeEach(() => {
  path = join(mkdtempSync(join(tmpdir(), "kenshin-log-")), "ledger.db");
  signer = createNoteSigner(generateNoteKey("kenshin.example/test-log"));
});

describe("SQLite log", () => {
  it("uses WAL with synchronous=FULL so an acknowledged batch is on disk", () => {
    newLedger().close();
    const db = new Database(path);
    // A fresh connection reports the persistent journal mode; synchronous is per connection, so check ours.
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    // New files get the larger pages; a file made with the default 4 KiB pages opens and appends as before.
    expect(db.pragma("page_size", { simple: true })).toBe(PAGE_BYTES);
    db.close();
  });

  it("opens and appends to a file made with 4 KiB pages (older files keep their page size)", async () => {
    const ledger = newLedger();
    await ledger.append([{ record: noteRecord(0) }, { record: noteRecord(1) }]);
    ledger.signCheckpoint(signer);
    ledger.close();
    const raw = new Database(path);
    raw.pragma("journal_mode = DELETE");
    raw.pragma("page_size = 4096");
    raw.exec("VACUUM");
    raw.pragma("journal_mode = WAL");
    raw.close();
    const reopened = new Ledger({ storage: openSqliteLog(path) });
    await reopened.append([{ record: noteRecord(2) }]);
    reopened.signCheckpoint(signer);
    expect(fsck(reopened.storage, parseVerifierKey(signer.verifierKey))).toMatchObject({ ok: true, size: 3 });
    reopened.close();
    const check = new Database(path);
    expect(check.pragma("page_size", { simple: true })).toBe(4096);
    check.close();
  });

  it("appends typed records, returns {index, leafHash}, and proofs verify against the signed checkpoint", async () => {
    const ledger = newLedger();
    const results = await ledger.append(Array.from({ length: 37 }, (_, i) => ({ record: noteRecord(i) })));
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    const cp = ledger.signCheckpoint(signer);
    const { checkpoint } = openCheckpoint(cp.note, parseVerifierKey(signer.verifierKey));
    expect(checkpoint.size).toBe(37);
    for (const i of [0, 1, 17, 36]) {
      const p = ledger.inclusionProof(i);
      expect(p.leafHash).toBe(results[i]?.leafHash);
      expect(Buffer.from(rfc6962Hasher.hashLeaf(ledger.entry(i))).toString("hex")).toBe(p.leafHash);
      verifyInclusion({
        index: i,
        size: p.treeSize,
        leafHash: fromHex(p.leafHash),
        proof: p.proof.map((h) => fromHex(h)),
        root: checkpoint.root,
      });
    }
    // Each entry links to the previous leaf hash: the log is also a hash chain.
    expect(decodeEntry(ledger.entry(5)).prev).toBe(results[4]?.leafHash);
    expect(decodeEntry(ledger.entry(0)).prev).toBe("0".repeat(64));
    ledger.close();
  });

  it("reopening continues the same tree (compact range reloaded from stored nodes)", async () => {
    let ledger = newLedger();
    await ledger.append(Array.from({ length: 13 }, (_, i) => ({ record: noteRecord(i) })));
    const old = ledger.signCheckpoint(signer);
    ledger.close();
    ledger = new Ledger({ storage: openSqliteLog(path) });
    await ledger.append(Array.from({ length: 20 }, (_, i) => ({ record: noteRecord(100 + i) })));
    const cp = ledger.signCheckpoint(signer);
    const proof = ledger.consistencyProof(13, 33);
    verifyConsistency({
      size1: 13,
      size2: 33,
      root1: old.root,
      root2: cp.root,
      proof: proof.proof.map((h) => fromHex(h)),
    });
    expect(decodeEntry(ledger.entry(13)).prev).toBe(ledger.inclusionProof(12).leafHash);
    ledger.close();
  });

  it("a proof at size n reads O(log n) nodes", async () => {
    const ledger = newLedger();
    const n = 4097;
    for (let i = 0; i < n; i += 512) {
      await ledger.append(
        Array.from({ length: Math.min(512, n - i) }, (_, j) => ({ record: noteRecord(i + j) })),
      );
    }
    ledger.signCheckpoint(signer);
    const storage = ledger.storage;
    let reads = 0;
    const original = storage.node.bind(storage);
    storage.node = (level, index) => {
      reads++;
      return original(level, index);
    };
    ledger.inclusionProof(1234);
    const inclusionReads = reads;
    reads = 0;
    ledger.consistencyProof(3001);
    expect(inclusionReads).toBeLessThanOrEqual(3 * Math.ceil(Math.log2(n)));
    expect(reads).toBeLessThanOrEqual(3 * Math.ceil(Math.log2(n)));
    ledger.close();
  });

  it("conversion entries store and index their record hashes; an entry is found by file and record hash", async () => {
    const ledger = newLedger();
    const records = Array.from({ length: 10 }, (_, i) => sha(`record ${i}`));
    await ledger.append([{ record: uploadRecord("T-1", sha("original")) }]);
    const [conv] = await ledger.append([conversionRequest("T-1", sha("original"), sha("standard"), records)]);
    expect(ledger.storage.findRecord(fromHex(records[3] as string))).toEqual([
      { index: conv?.index, position: 3 },
    ]);
    expect(ledger.storage.findByKey(`sha256:${sha("standard")}`)).toEqual([1]);
    expect(ledger.storage.findByKey("transfer:T-1")).toEqual([0, 1]);
    ledger.close();
  });

  it("a conversion whose record hashes do not match its root is refused, and nothing is appended", async () => {
    const ledger = newLedger();
    const request = conversionRequest("T-2", sha("a"), sha("b"), [sha("r1"), sha("r2")]);
    await expect(
      ledger.append([{ record: noteRecord(1) }, { ...request, recordHashes: [sha("r1"), sha("rX")] }]),
    ).rejects.toMatchObject({
      code: "LEDGER_RECORDS_ROOT_MISMATCH",
    });
    expect(ledger.storage.size()).toBe(0);
    await ledger.append([{ record: noteRecord(2) }]);
    expect(decodeEntry(ledger.entry(0)).prev).toBe("0".repeat(64));
    ledger.close();
  });

  it("never signs a checkpoint inconsistent with the last one it signed", async () => {
    const ledger = newLedger();
    await ledger.append(Array.from({ length: 8 }, (_, i) => ({ record: noteRecord(i) })));
    ledger.signCheckpoint(signer);
    ledger.close();
    // History rewritten underneath the log: the stored root of the first 8 leaves no longer matches.
    const db = new Database(path);
    db.prepare("UPDATE nodes SET hash = ? WHERE key = ?").run(Buffer.alloc(32, 1), nodeKey(3, 0));
    db.close();
    const reopened = new Ledger({ storage: openSqliteLog(path) });
    await reopened.append([{ record: noteRecord(99) }]);
    expectCode(() => reopened.signCheckpoint(signer), "LEDGER_CHECKPOINT_INCONSISTENT");
    expect(reopened.latestCheckpoint().size).toBe(8);
    reopened.close();
  });

  it("refuses to sign with a key that is not this log's", async () => {
    const ledger = newLedger();
    await ledger.append([{ record: noteRecord(1) }]);
    expectCode(
      () => ledger.signCheckpoint(createNoteSigner(generateNoteKey(signer.name))),
      "LEDGER_VERIFIER_KEY_INVALID",
    );
    ledger.close();
  });

  it("refuses to create over an existing file and to open a missing one", () => {
    newLedger().close();
    expectCode(() => createSqliteLog({ path, origin: "x", verifierKey: "y" }), "LEDGER_DB_EXISTS");
    expectCode(() => openSqliteLog(`${path}.missing`), "LEDGER_DB_UNUSABLE");
  });
});
