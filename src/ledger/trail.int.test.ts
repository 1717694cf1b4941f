import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectCode } from "../../test/ledger/expect-code.js";
import { conversionRequest, noteRecord, sha, uploadRecord } from "../../test/ledger/records.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import { recordHashesOf, sha256Hex } from "../format/hash.js";
import { createSqliteLog, nodeKey, openSqliteLog } from "../store/sqlite-log.js";
import { Ledger } from "./ledger.js";
import { verifyTrail } from "./trail.js";
import { parseVerifierKey } from "./verify/verifier-key.js";

const csv = Buffer.from("h1,h2\r\na,1\r\nb,2\r\nc,3\r\n", "utf8");

async function setup(): Promise<{ path: string; vkey: string }> {
  const path = join(mkdtempSync(join(tmpdir(), "kenshin-trail-")), "ledger.db");
  const signer = createNoteSigner(generateNoteKey("kenshin.example/trail"));
  const ledger = new Ledger({
    storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
  });
  await ledger.append([{ record: noteRecord(0) }, { record: uploadRecord("T-9", sha("original")) }]);
  await ledger.append([conversionRequest("T-9", sha("original"), sha256Hex(csv), recordHashesOf(csv))]);
  await ledger.append([{ record: noteRecord(3) }]);
  ledger.signCheckpoint(signer);
  ledger.close();
  return { path, vkey: signer.verifierKey };
}

describe("verifyTrail", () => {
  it("finds the file's conversion and the whole transfer, with every record proven in two levels", async () => {
    const { path, vkey } = await setup();
    const storage = openSqliteLog(path);
    const trail = verifyTrail({
      storage,
      logKey: parseVerifierKey(vkey),
      fileSha256: sha256Hex(csv),
      recordHashes: recordHashesOf(csv),
    });
    expect(trail.entries.map((e) => [e.index, e.record.type, e.matched])).toEqual([
      [1, "upload", "transfer"],
      [2, "conversion", "file"],
    ]);
    expect(trail.records).toEqual({ total: 3, proven: 3, byEntry: { 2: 3 } });
    storage.close();
  });

  it("a single record of the file is found and proven on its own", async () => {
    const { path, vkey } = await setup();
    const storage = openSqliteLog(path);
    const one = recordHashesOf(csv).slice(1, 2);
    const trail = verifyTrail({
      storage,
      logKey: parseVerifierKey(vkey),
      fileSha256: sha("other file"),
      recordHashes: one,
    });
    expect(trail.entries.find((e) => e.index === 2)?.matched).toBe("record");
    expect(trail.records.proven).toBe(1);
    storage.close();
  });

  it("an unknown file → LEDGER_NOT_FOUND; another log's key → LEDGER_CHECKPOINT_UNSIGNED", async () => {
    const { path, vkey } = await setup();
    const storage = openSqliteLog(path);
    expectCode(
      () => verifyTrail({ storage, logKey: parseVerifierKey(vkey), fileSha256: sha("x"), recordHashes: [] }),
      "LEDGER_NOT_FOUND",
    );
    const other = parseVerifierKey(createNoteSigner(generateNoteKey("kenshin.example/trail")).verifierKey);
    expectCode(
      () => verifyTrail({ storage, logKey: other, fileSha256: sha256Hex(csv), recordHashes: [] }),
      "LEDGER_CHECKPOINT_UNSIGNED",
    );
    storage.close();
  });

  it("a tampered stored tree makes the inclusion proof fail → LEDGER_PROOF_INVALID", async () => {
    const { path, vkey } = await setup();
    const db = new Database(path);
    db.prepare("UPDATE nodes SET hash = ? WHERE key = ?").run(Buffer.alloc(32, 9), nodeKey(1, 0));
    db.close();
    const storage = openSqliteLog(path);
    expectCode(
      () =>
        verifyTrail({
          storage,
          logKey: parseVerifierKey(vkey),
          fileSha256: sha256Hex(csv),
          recordHashes: [],
        }),
      "LEDGER_PROOF_INVALID",
    );
    storage.close();
  });

  it("a tampered stored record hash → LEDGER_RECORDS_ROOT_MISMATCH", async () => {
    const { path, vkey } = await setup();
    const db = new Database(path);
    db.prepare("UPDATE record_hashes SET hash = ? WHERE idx = 2 AND position = 0").run(Buffer.alloc(32, 1));
    db.close();
    const storage = openSqliteLog(path);
    expectCode(
      () =>
        verifyTrail({
          storage,
          logKey: parseVerifierKey(vkey),
          fileSha256: sha256Hex(csv),
          recordHashes: recordHashesOf(csv).slice(1),
        }),
      "LEDGER_RECORDS_ROOT_MISMATCH",
    );
    storage.close();
  });
});
