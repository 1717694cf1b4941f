import Database from "better-sqlite3";
import canonicalize from "canonicalize";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { conversionRequest, noteRecord, sha } from "../../test/ledger/records.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner, type NoteSigner } from "../crypto/note-signer.js";
import { createSqliteLog, nodeKey, openSqliteLog } from "../store/sqlite-log.js";
import { decodeEntry } from "./entry/canonical-entry.js";
import type { fsckLogFile } from "../store/sqlite-log-fsck.js";
import { fsck, type FsckResult } from "./fsck.js";
import { Ledger } from "./ledger.js";
import { nodeHasher } from "./node-hasher.js";
import { formatCheckpoint } from "./verify/checkpoint.js";
import { CompactRange } from "./verify/compact-range.js";
import { appendSignatureLine } from "./verify/signed-note.js";
import { parseVerifierKey } from "./verify/verifier-key.js";

let path: string;
let signer: NoteSigner;

/** 40 note entries in 4 batches, a checkpoint after each, plus a conversion at index 40. */
async function buildLog(): Promise<void> {
  const ledger = new Ledger({
    storage: createSqliteLog({ path, origin: signer.name, verifierKey: signer.verifierKey }),
  });
  for (let b = 0; b < 4; b++) {
    await ledger.append(Array.from({ length: 10 }, (_, i) => ({ record: noteRecord(b * 10 + i) })));
    ledger.signCheckpoint(signer);
  }
  await ledger.append([conversionRequest("T", sha("in"), sha("out"), [sha("r0"), sha("r1"), sha("r2")])]);
  await ledger.append([{ record: noteRecord(41) }, { record: noteRecord(42) }]);
  ledger.signCheckpoint(signer);
  ledger.close();
}

/** The entry checks in worker threads (`store/sqlite-log-fsck.ts`), as built into dist/ (a worker runs JS). */
const parallel = (
  (await import(join(process.cwd(), "dist/store/sqlite-log-fsck.js"))) as { fsckLogFile: typeof fsckLogFile }
).fsckLogFile;

/**
 * fsck in one thread; and the same log checked with its entries in pages shared by this thread and one or
 * two worker threads, with page boundaries everywhere, must give exactly the same result.
 */
async function check(signatures: "all" | "latest" = "all"): Promise<FsckResult> {
  const storage = openSqliteLog(path);
  let result: FsckResult;
  try {
    result = fsck(storage, parseVerifierKey(signer.verifierKey), { signatures });
  } finally {
    storage.close();
  }
  for (const [workers, pageSize] of [
    [1, 1],
    [2, 4],
    [1, 7],
    [2, 64],
  ] as const) {
    const inWorkers = await parallel(path, parseVerifierKey(signer.verifierKey), {
      signatures,
      workers,
      pageSize,
    });
    expect({ workers, pageSize, ...inWorkers }).toEqual({ workers, pageSize, ...result });
  }
  return result;
}

function tamper(fn: (db: Database.Database) => void): void {
  const db = new Database(path);
  fn(db);
  db.close();
}

function entryBytes(db: Database.Database, idx: number): Buffer {
  return (db.prepare("SELECT entry FROM entries WHERE idx = ?").get(idx) as { entry: Buffer }).entry;
}

/** Re-encodes entry `idx` with `change` applied, keeping it canonical; optionally recomputes its leaf hash. */
function rewrite(
  db: Database.Database,
  idx: number,
  change: (r: Record<string, unknown>) => void,
  recomputeHash: boolean,
): void {
  const record = JSON.parse(entryBytes(db, idx).toString("utf8")) as Record<string, unknown>;
  change(record);
  const bytes = Buffer.from(canonicalize(record) as string, "utf8");
  db.prepare("UPDATE entries SET entry = ? WHERE idx = ?").run(bytes, idx);
  if (recomputeHash) {
    db.prepare("UPDATE entries SET leaf_hash = ? WHERE idx = ?").run(
      Buffer.from(nodeHasher.hashLeaf(bytes)),
      idx,
    );
  }
}

beforeEach(async () => {
  path = join(mkdtempSync(join(tmpdir(), "kenshin-fsck-")), "ledger.db");
  signer = createNoteSigner(generateNoteKey("kenshin.example/fsck"));
  await buildLog();
});

describe("fsck on a real SQLite file", () => {
  it("an untouched log is intact", async () => {
    expect(await check()).toMatchObject({
      ok: true,
      size: 43,
      signedSize: 43,
      unsignedEntries: 0,
      checkpoints: 5,
      signaturesVerified: 5,
    });
  });

  it("an edited entry (hash not recomputed) → LEDGER_LEAF_HASH_MISMATCH at its index", async () => {
    tamper((db) => {
      rewrite(
        db,
        17,
        (r) => {
          r["data"] = { n: 999 };
        },
        false,
      );
    });
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_LEAF_HASH_MISMATCH", firstBadIndex: 17 });
  });

  it("a deleted row → LEDGER_ENTRY_MISSING at its index", async () => {
    tamper((db) => db.prepare("DELETE FROM entries WHERE idx = 23").run());
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_MISSING", firstBadIndex: 23 });
  });

  it("the last row deleted → LEDGER_ENTRY_MISSING at the old size - 1", async () => {
    tamper((db) => db.prepare("DELETE FROM entries WHERE idx = 42").run());
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_MISSING", firstBadIndex: 42 });
  });

  it("two swapped rows → LEDGER_ENTRY_OUT_OF_ORDER at the first of them", async () => {
    tamper((db) => {
      const a = db.prepare("SELECT entry, leaf_hash FROM entries WHERE idx = 12").get() as {
        entry: Buffer;
        leaf_hash: Buffer;
      };
      const b = db.prepare("SELECT entry, leaf_hash FROM entries WHERE idx = 31").get() as {
        entry: Buffer;
        leaf_hash: Buffer;
      };
      const put = db.prepare("UPDATE entries SET entry = ?, leaf_hash = ? WHERE idx = ?");
      put.run(b.entry, b.leaf_hash, 12);
      put.run(a.entry, a.leaf_hash, 31);
    });
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_OUT_OF_ORDER", firstBadIndex: 12 });
  });

  it("two adjacent swapped rows → LEDGER_ENTRY_OUT_OF_ORDER at the first of them", async () => {
    tamper((db) => {
      const a = db.prepare("SELECT entry, leaf_hash FROM entries WHERE idx = 5").get() as {
        entry: Buffer;
        leaf_hash: Buffer;
      };
      const b = db.prepare("SELECT entry, leaf_hash FROM entries WHERE idx = 6").get() as {
        entry: Buffer;
        leaf_hash: Buffer;
      };
      const put = db.prepare("UPDATE entries SET entry = ?, leaf_hash = ? WHERE idx = ?");
      put.run(b.entry, b.leaf_hash, 5);
      put.run(a.entry, a.leaf_hash, 6);
    });
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_OUT_OF_ORDER", firstBadIndex: 5 });
  });

  for (const idx of [8, 9]) {
    it(`a rewritten leaf ${idx} with its hash recomputed → LEDGER_ENTRY_REWRITTEN at ${idx}`, async () => {
      tamper((db) => {
        rewrite(
          db,
          idx,
          (r) => {
            r["data"] = { n: 12345 };
          },
          true,
        );
      });
      expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_REWRITTEN", firstBadIndex: idx });
    });
  }

  it("a rewritten leaf whose hash, chain and every stored node are recomputed → LEDGER_ROOT_MISMATCH from the last matching checkpoint", async () => {
    tamper((db) => {
      rewrite(
        db,
        25,
        (r) => {
          r["data"] = { n: -1 };
        },
        true,
      );
      // Re-link the rest of the chain and rebuild every interior node, as a thorough attacker would.
      for (let i = 26; i < 43; i++) {
        const prev = (
          db.prepare("SELECT leaf_hash FROM entries WHERE idx = ?").get(i - 1) as { leaf_hash: Buffer }
        ).leaf_hash;
        rewrite(
          db,
          i,
          (r) => {
            r["prev"] = prev.toString("hex");
          },
          true,
        );
      }
      db.prepare("DELETE FROM nodes").run();
      const leaves = (
        db.prepare("SELECT leaf_hash FROM entries ORDER BY idx").all() as { leaf_hash: Buffer }[]
      ).map((r) => r.leaf_hash);
      let level = 0;
      let row: Uint8Array[] = leaves;
      while (row.length > 1) {
        const up: Uint8Array[] = [];
        for (let k = 0; k + 1 < row.length; k += 2)
          up.push(nodeHasher.hashChildren(row[k] as Uint8Array, row[k + 1] as Uint8Array));
        level++;
        up.forEach((h, k) =>
          db.prepare("INSERT INTO nodes (key, hash) VALUES (?, ?)").run(nodeKey(level, k), h),
        );
        row = up;
      }
    });
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ROOT_MISMATCH", firstBadIndex: 20 });
  });

  it("a tampered interior node → LEDGER_NODE_MISMATCH at the first leaf under it", async () => {
    tamper((db) =>
      db.prepare("UPDATE nodes SET hash = ? WHERE key = ?").run(Buffer.alloc(32, 7), nodeKey(2, 3)),
    );
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_NODE_MISMATCH", firstBadIndex: 12 });
  });

  it("an altered record hash of a conversion → LEDGER_RECORDS_ROOT_MISMATCH at the conversion", async () => {
    tamper((db) =>
      db
        .prepare("UPDATE record_hashes SET hash = ? WHERE idx = 40 AND position = 1")
        .run(Buffer.alloc(32, 3)),
    );
    expect(await check()).toMatchObject({
      ok: false,
      code: "LEDGER_RECORDS_ROOT_MISMATCH",
      firstBadIndex: 40,
    });
  });

  it("a forged checkpoint row → LEDGER_CHECKPOINT_SIGNATURE_INVALID", async () => {
    tamper((db) => {
      const note = (db.prepare("SELECT note FROM checkpoints WHERE size = 43").get() as { note: string })
        .note;
      db.prepare("UPDATE checkpoints SET note = ? WHERE size = 43").run(note.replace("\n43\n", "\n44\n"));
    });
    expect(await check()).toMatchObject({
      ok: false,
      code: "LEDGER_CHECKPOINT_SIGNATURE_INVALID",
      firstBadIndex: null,
    });
  });

  it("entries appended after the last checkpoint are reported as unsigned, not as damage", async () => {
    const ledger = new Ledger({ storage: openSqliteLog(path) });
    await ledger.append([{ record: noteRecord(100) }]);
    ledger.close();
    expect(await check()).toMatchObject({ ok: true, size: 44, signedSize: 43, unsignedEntries: 1 });
    expect(decodeEntry(new Ledger({ storage: openSqliteLog(path) }).entry(43)).type).toBe("note");
  });

  it("an older checkpoint whose signature was altered → LEDGER_CHECKPOINT_SIGNATURE_INVALID; with signatures: latest its root is still compared", async () => {
    tamper((db) => {
      const note = (db.prepare("SELECT note FROM checkpoints WHERE size = 20").get() as { note: string })
        .note;
      const [text, sig] = note.split("\n\n") as [string, string];
      const raw = Buffer.from(sig.slice(sig.lastIndexOf(" ") + 1).trim(), "base64");
      raw[10] = (raw[10] ?? 0) ^ 1;
      const forged = `${text}\n\n${sig.slice(0, sig.lastIndexOf(" ") + 1)}${raw.toString("base64")}\n`;
      db.prepare("UPDATE checkpoints SET note = ? WHERE size = 20").run(forged);
    });
    expect(await check()).toMatchObject({
      ok: false,
      code: "LEDGER_CHECKPOINT_SIGNATURE_INVALID",
      firstBadIndex: null,
    });
    expect(await check("latest")).toMatchObject({
      ok: true,
      size: 43,
      checkpoints: 5,
      signaturesVerified: 1,
    });
  });

  it("an older checkpoint row whose root differs from its note → LEDGER_CHECKPOINT_MALFORMED", async () => {
    tamper((db) => db.prepare("UPDATE checkpoints SET root = ? WHERE size = 30").run(Buffer.alloc(32, 1)));
    expect(await check()).toMatchObject({
      ok: false,
      code: "LEDGER_CHECKPOINT_MALFORMED",
      firstBadIndex: null,
    });
  });

  it("an older checkpoint validly signed over another root → LEDGER_ROOT_MISMATCH at the last matching size", async () => {
    tamper((db) => {
      const root = Buffer.alloc(32, 9);
      const text = formatCheckpoint({ origin: signer.name, size: 30, root });
      const note = appendSignatureLine(`${text}\n`, signer.name, signer.keyId, signer.sign(text));
      db.prepare("UPDATE checkpoints SET root = ?, note = ? WHERE size = 30").run(root, note);
    });
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ROOT_MISMATCH", firstBadIndex: 20 });
  });

  it("a stray row before index 0 → LEDGER_ENTRY_MISSING at 0", async () => {
    tamper((db) =>
      db
        .prepare(
          "INSERT INTO entries (idx, entry, leaf_hash) SELECT -1, entry, leaf_hash FROM entries WHERE idx = 3",
        )
        .run(),
    );
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_ENTRY_MISSING", firstBadIndex: 0 });
  });

  it("a node row no entry completes (in the middle, past the end) → LEDGER_NODE_MISMATCH / LEDGER_EXTRA_ROWS", async () => {
    tamper((db) =>
      db.prepare("INSERT INTO nodes (key, hash) VALUES (?, ?)").run(nodeKey(1, 200), Buffer.alloc(32, 2)),
    );
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_EXTRA_ROWS", firstBadIndex: null });
    tamper((db) =>
      db.prepare("INSERT INTO nodes (key, hash) VALUES (?, ?)").run(nodeKey(1, 9) + 5, Buffer.alloc(32, 2)),
    );
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_NODE_MISMATCH" });
  });

  it("a deleted node row at a page boundary → LEDGER_NODE_MISMATCH at the first leaf under it", async () => {
    tamper((db) => db.prepare("DELETE FROM nodes WHERE key = ?").run(nodeKey(2, 6)));
    expect(await check()).toMatchObject({ ok: false, code: "LEDGER_NODE_MISMATCH", firstBadIndex: 24 });
  });
});

describe("fsck at scale", () => {
  it("a log with 130,000 checkpoints (one per entry) is checked without a spread or recursion over them", async () => {
    // Past the ~125,000 arguments at which Math.max(...sizes) threw RangeError. Every size gets a
    // checkpoint row with its true root; only the latest is really signed (signing 130,000 would only
    // slow the test), so "latest" passes and "all" finds the first unsigned one.
    const n = 130_000;
    const bigPath = join(mkdtempSync(join(tmpdir(), "kenshin-fsck-big-")), "ledger.db");
    const ledger = new Ledger({
      storage: createSqliteLog({ path: bigPath, origin: signer.name, verifierKey: signer.verifierKey }),
    });
    for (let i = 0; i < n; i += 26_000)
      await ledger.append(Array.from({ length: 26_000 }, (_, j) => ({ record: noteRecord(i + j) })));
    ledger.close();
    const db = new Database(bigPath);
    const range = new CompactRange(nodeHasher);
    const insert = db.prepare("INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)");
    const leaves = db.prepare("SELECT leaf_hash FROM entries ORDER BY idx").pluck();
    const bogus = Buffer.alloc(64, 5);
    db.transaction(() => {
      for (const leaf of leaves.all() as Buffer[]) {
        range.append(leaf);
        const root = range.root();
        const text = formatCheckpoint({ origin: signer.name, size: range.size, root });
        const sig = range.size === n ? signer.sign(text) : bogus;
        insert.run(range.size, root, appendSignatureLine(`${text}\n`, signer.name, signer.keyId, sig));
      }
    })();
    db.close();
    const storage = openSqliteLog(bigPath);
    try {
      const vkey = parseVerifierKey(signer.verifierKey);
      expect(fsck(storage, vkey, { signatures: "latest" })).toMatchObject({
        ok: true,
        size: n,
        signedSize: n,
        checkpoints: n,
        signaturesVerified: 1,
      });
      expect(fsck(storage, vkey)).toMatchObject({ ok: false, code: "LEDGER_CHECKPOINT_SIGNATURE_INVALID" });
    } finally {
      storage.close();
    }
  }, 120_000);
});
