/**
 * The ledger's stable CLI contract (issue 3, "CLI"), exercised through the built CLI in child processes:
 * `kenshin ledger init|append|entry|checkpoint|proof|consistency|fsck` and `kenshin verify`. Every proof the
 * CLI prints is checked with the pure verifier (`src/ledger/verify/`) against a checkpoint whose signature
 * was checked with the verifier key `init` printed — never against a root the same command printed alone.
 * Assertions are on exit codes, stdout JSON/bytes and the `kenshin: <CODE>:` prefix, not on message text.
 */
import Database from "better-sqlite3";
import canonicalize from "canonicalize";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readKeyFile } from "../src/crypto/key-file.js";
import { createNoteSigner } from "../src/crypto/note-signer.js";
import { recordsCommitment } from "../src/ledger/entry/records-commitment.js";
import { Ledger } from "../src/ledger/ledger.js";
import { openCheckpoint, type Checkpoint } from "../src/ledger/verify/checkpoint.js";
import { verifyConsistency } from "../src/ledger/verify/consistency.js";
import { fromHex, toHex } from "../src/ledger/verify/encoding.js";
import { verifyInclusion } from "../src/ledger/verify/inclusion.js";
import { parseVerifierKey, type VerifierKey } from "../src/ledger/verify/verifier-key.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
const ORIGIN = "kenshin.example/cli-test";
const HEX64 = /^[0-9a-f]{64}$/;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-ledger-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: Buffer;
  out: string;
  stderr: string;
}

function kenshin(args: readonly string[], input = ""): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    env: { ...process.env, KENSHIN_DEBUG: "" },
    timeout: 30_000,
  });
  return {
    code: r.status,
    stdout: r.stdout,
    out: r.stdout.toString("utf8"),
    stderr: r.stderr.toString("utf8"),
  };
}

/** Asserts a coded failure: the exit code and `kenshin: <CODE>:` on stderr, never a stack trace. */
function expectFailure(r: Run, code: number, errorCode: string): void {
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({
    code,
    stderr: expect.stringMatching(new RegExp(`^kenshin: ${errorCode}: `, "m")) as unknown,
  });
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function leafHashOf(entry: Uint8Array): string {
  return createHash("sha256")
    .update(Buffer.from([0x00]))
    .update(entry)
    .digest("hex");
}

interface Ack {
  index: number;
  leafHash: string;
}

/** Parses `ledger append` output, insisting on exactly `{"index":N,"leafHash":"<hex>"}` per line. */
function parseAcks(out: string): Ack[] {
  const lines = out.split("\n");
  expect(lines.pop()).toBe("");
  return lines.map((line) => {
    expect(line).toMatch(/^\{"index":(?:0|[1-9][0-9]*),"leafHash":"[0-9a-f]{64}"\}$/);
    return JSON.parse(line) as Ack;
  });
}

interface ProofJson {
  index: number;
  treeSize: number;
  leafHash: string;
  proof: string[];
  root: string;
}

function parseProof(r: Run): ProofJson {
  expect(r.code).toBe(0);
  const json = JSON.parse(r.out) as ProofJson;
  expect(Object.keys(json)).toEqual(["index", "treeSize", "leafHash", "proof", "root"]);
  return json;
}

describe("kenshin ledger (built CLI)", () => {
  let db: string;
  let keyFile: string;
  let vkeyText: string;
  let vkey: VerifierKey;
  const acks: Ack[] = [];
  const sent: Record<string, unknown>[] = [];
  let note3 = "";
  let cp3: Checkpoint;
  let cp5: Checkpoint;

  const openNote = (note: string): Checkpoint => openCheckpoint(note, vkey).checkpoint;

  it("init creates the log and key, prints the verifier key, and refuses to overwrite either (exit 2)", () => {
    db = join(dir, "ledger.db");
    keyFile = join(dir, "ledger.key");
    const r = kenshin(["ledger", "init", "--db", db, "--key", keyFile, "--origin", ORIGIN]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^[^\n]+\n$/);
    vkeyText = r.out.trim();
    vkey = parseVerifierKey(vkeyText);
    expect(vkey.name).toBe(ORIGIN);
    expect(existsSync(db)).toBe(true);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    expect(readKeyFile(keyFile).name).toBe(ORIGIN);
    // The empty log already has a signed checkpoint of size 0.
    expect(openNote(kenshin(["ledger", "checkpoint", "--db", db]).out).size).toBe(0);

    const keyBytes = readFileSync(keyFile);
    const dbBytes = readFileSync(db);
    const otherKey = join(dir, "other.key");
    const again = kenshin(["ledger", "init", "--db", db, "--key", otherKey, "--origin", ORIGIN]);
    expectFailure(again, 2, "LEDGER_DB_EXISTS");
    expect(again.out).toBe("");
    expect(existsSync(otherKey)).toBe(false);
    expect(readFileSync(db)).toEqual(dbBytes);

    const otherDb = join(dir, "other.db");
    const sameKey = kenshin(["ledger", "init", "--db", otherDb, "--key", keyFile, "--origin", ORIGIN]);
    expectFailure(sameKey, 2, "CRYPTO_KEY_FILE_EXISTS");
    expect(readFileSync(keyFile)).toEqual(keyBytes);
    expect(existsSync(otherDb)).toBe(false);
  });

  it("append reads JSON objects from stdin, acknowledges each, then signs a checkpoint", () => {
    const batch = [{ memo: "hello" }, { n: 1, nested: { z: [1, 2], a: "健診" } }, { "€": 1, a: null }];
    const r = kenshin(
      ["ledger", "append", "--db", db, "--key", keyFile],
      batch.map((o) => JSON.stringify(o)).join("\n") + "\n\n",
    );
    expect(r.code).toBe(0);
    const got = parseAcks(r.out);
    expect(got.map((a) => a.index)).toEqual([0, 1, 2]);
    acks.push(...got);
    sent.push(...batch);
    note3 = kenshin(["ledger", "checkpoint", "--db", db]).out;
    cp3 = openNote(note3);
    expect(cp3.size).toBe(3);
  });

  it("append refuses a line that is not a JSON object (exit 2) and appends nothing of that input", () => {
    for (const bad of ["[1,2]", "{not json"]) {
      const r = kenshin(["ledger", "append", "--db", db, "--key", keyFile], `{"ok":1}\n${bad}\n{"ok":2}\n`);
      expectFailure(r, 2, "LEDGER_ENTRY_INVALID");
      expect(r.out).toBe("");
    }
    expect(kenshin(["ledger", "checkpoint", "--db", db]).out).toBe(note3);
    expectFailure(kenshin(["ledger", "entry", "--db", db, "--index", "3"]), 2, "LEDGER_NOT_FOUND");
  });

  it("a second append continues the indices and the hash chain", () => {
    const batch = [{ memo: "second" }, { memo: "third", k: 3 }];
    const r = kenshin(
      ["ledger", "append", "--db", db, "--key", keyFile],
      batch.map((o) => JSON.stringify(o)).join("\n"),
    );
    expect(r.code).toBe(0);
    const got = parseAcks(r.out);
    expect(got.map((a) => a.index)).toEqual([3, 4]);
    acks.push(...got);
    sent.push(...batch);
  });

  it("entry prints the exact canonical bytes whose leaf hash is what append acknowledged", () => {
    acks.forEach((ack, i) => {
      const r = kenshin(["ledger", "entry", "--db", db, "--index", String(ack.index)]);
      expect(r.code).toBe(0);
      const bytes = r.stdout;
      expect(leafHashOf(bytes)).toBe(ack.leafHash);
      const record = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
      // RFC 8785: re-canonicalising the parsed bytes gives the same bytes (no trailing newline either).
      expect(Buffer.from(canonicalize(record) ?? "", "utf8")).toEqual(bytes);
      expect(record).toMatchObject({
        v: 1,
        type: "note",
        data: sent[i],
        prev: i === 0 ? "0".repeat(64) : acks[i - 1]?.leafHash,
        source: { observer: ORIGIN },
      });
    });
    expectFailure(kenshin(["ledger", "entry", "--db", db, "--index", "5"]), 2, "LEDGER_NOT_FOUND");
  });

  it("checkpoint prints a C2SP signed note: origin, size, base64 root, blank line, signature line", () => {
    const r = kenshin(["ledger", "checkpoint", "--db", db]);
    expect(r.code).toBe(0);
    const origin = ORIGIN.replace(/\./g, "\\.");
    expect(r.out).toMatch(
      new RegExp(`^${origin}\\n5\\n[A-Za-z0-9+/]{43}=\\n\\n— ${origin} [A-Za-z0-9+/]+=*\\n$`),
    );
    // Signature line: key ID (4 bytes, the verifier key's) then the 64-byte Ed25519 signature.
    const sig = Buffer.from(r.out.split("\n")[4]?.split(" ")[2] ?? "", "base64");
    expect(sig.length).toBe(4 + 64);
    expect(sig.readUInt32BE(0)).toBe(vkey.keyId);
    cp5 = openNote(r.out);
    expect(cp5.size).toBe(5);
    // Only the init key opens it: another log's key (same origin) does not.
    const stranger = kenshin([
      "ledger",
      "init",
      "--db",
      join(dir, "stranger.db"),
      "--key",
      join(dir, "stranger.key"),
      "--origin",
      ORIGIN,
    ]);
    expect(() => openCheckpoint(r.out, parseVerifierKey(stranger.out.trim()))).toThrow();
  });

  it("proof --index / --leaf-hash prints an inclusion proof that verifies against the signed checkpoint", () => {
    const proofs = acks.map((ack) => {
      const p = parseProof(kenshin(["ledger", "proof", "--db", db, "--index", String(ack.index)]));
      expect(p).toMatchObject({
        index: ack.index,
        treeSize: 5,
        leafHash: ack.leafHash,
        root: toHex(cp5.root),
      });
      verifyInclusion({
        index: p.index,
        size: p.treeSize,
        leafHash: fromHex(ack.leafHash),
        proof: p.proof.map((h) => fromHex(h)),
        root: cp5.root,
      });
      return p;
    });
    for (const i of [0, 4]) {
      const byHash = kenshin(["ledger", "proof", "--db", db, "--leaf-hash", acks[i]?.leafHash ?? ""]);
      expect(byHash.code).toBe(0);
      expect(byHash.out).toBe(`${JSON.stringify(proofs[i])}\n`);
    }
    // The check above can fail: leaf 0's proof does not verify leaf 1 at index 0.
    expect(() => {
      verifyInclusion({
        index: 0,
        size: 5,
        leafHash: fromHex(acks[1]?.leafHash ?? ""),
        proof: (proofs[0]?.proof ?? []).map((h) => fromHex(h)),
        root: cp5.root,
      });
    }).toThrow();
  });

  it("proof --size proves inclusion in an older signed tree", () => {
    for (const ack of [acks[0], acks[2]]) {
      const index = ack?.index ?? -1;
      const p = parseProof(kenshin(["ledger", "proof", "--db", db, "--index", String(index), "--size", "3"]));
      expect(p).toMatchObject({ index, treeSize: 3, root: toHex(cp3.root) });
      verifyInclusion({
        index,
        size: 3,
        leafHash: fromHex(ack?.leafHash ?? ""),
        proof: p.proof.map((h) => fromHex(h)),
        root: cp3.root,
      });
    }
    const viaHash = parseProof(
      kenshin(["ledger", "proof", "--db", db, "--leaf-hash", acks[1]?.leafHash ?? "", "--size", "3"]),
    );
    expect(viaHash).toMatchObject({ index: 1, treeSize: 3, root: toHex(cp3.root) });
    // Leaf 3 is not in the tree of size 3; size 6 is past the end; --index and --leaf-hash are exclusive;
    // an unknown leaf hash is not found.
    expect(kenshin(["ledger", "proof", "--db", db, "--index", "3", "--size", "3"]).code).toBe(2);
    expect(kenshin(["ledger", "proof", "--db", db, "--index", "0", "--size", "6"]).code).toBe(2);
    expect(
      kenshin(["ledger", "proof", "--db", db, "--index", "0", "--leaf-hash", acks[0]?.leafHash ?? ""]).code,
    ).toBe(2);
    expectFailure(
      kenshin(["ledger", "proof", "--db", db, "--leaf-hash", "ab".repeat(32)]),
      2,
      "LEDGER_NOT_FOUND",
    );
  });

  it("consistency --from A [--to B] prints a proof that verifies between signed checkpoints", () => {
    const r = kenshin(["ledger", "consistency", "--db", db, "--from", "3"]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.out) as { from: number; to: number; proof: string[] };
    expect(Object.keys(c)).toEqual(["from", "to", "proof"]);
    expect(c).toMatchObject({ from: 3, to: 5 });
    expect(c.proof.every((h) => HEX64.test(h))).toBe(true);
    const claim = {
      size1: 3,
      size2: 5,
      root1: cp3.root,
      root2: cp5.root,
      proof: c.proof.map((h) => fromHex(h)),
    };
    verifyConsistency(claim);
    expect(() => {
      verifyConsistency({ ...claim, root1: cp5.root });
    }).toThrow();

    // --to B: between two unsigned sizes, with roots from `proof --size`.
    const root = (size: number): Uint8Array =>
      fromHex(
        parseProof(kenshin(["ledger", "proof", "--db", db, "--index", "0", "--size", String(size)])).root,
      );
    const root4 = root(4);
    for (const from of [1, 2]) {
      const to = kenshin(["ledger", "consistency", "--db", db, "--from", String(from), "--to", "4"]);
      expect(to.code).toBe(0);
      const j = JSON.parse(to.out) as { from: number; to: number; proof: string[] };
      expect(j).toMatchObject({ from, to: 4 });
      verifyConsistency({
        size1: from,
        size2: 4,
        root1: root(from),
        root2: root4,
        proof: j.proof.map((h) => fromHex(h)),
      });
    }
    expect(kenshin(["ledger", "consistency", "--db", db, "--from", "3", "--to", "6"]).code).toBe(2);
    expect(kenshin(["ledger", "consistency", "--db", db, "--from", "x"]).code).toBe(2);
  });

  it("fsck: 0 when intact, 1 with the first bad index after an entry's bytes are edited, 2 when unusable", () => {
    const ok = kenshin(["ledger", "fsck", "--db", db, "--verifier", vkeyText]);
    expect(ok.code).toBe(0);
    const intact = JSON.parse(ok.out) as { checkpoints: number; signaturesVerified: number };
    expect(intact).toEqual({
      ok: true,
      size: 5,
      signedSize: 5,
      root: toHex(cp5.root),
      unsignedEntries: 0,
      checkpoints: intact.checkpoints,
      signaturesVerified: intact.checkpoints,
    });
    expect(intact.checkpoints).toBeGreaterThanOrEqual(2);
    const latestOnly = kenshin(["ledger", "fsck", "--db", db, "--verifier", vkeyText, "--latest-signature"]);
    expect(JSON.parse(latestOnly.out)).toMatchObject({ ok: true, size: 5, signaturesVerified: 1 });
    // The verifier key may also be given as a file.
    const vkeyFile = join(dir, "ledger.vkey");
    writeFileSync(vkeyFile, `${vkeyText}\n`);
    expect(kenshin(["ledger", "fsck", "--db", db, "--verifier", vkeyFile]).code).toBe(0);

    // Tamper a copy (the CLI closed the log, so there is no WAL to copy along).
    expect(existsSync(`${db}-wal`)).toBe(false);
    const tampered = join(dir, "tampered.db");
    copyFileSync(db, tampered);
    const sqlite = new Database(tampered);
    const row = sqlite.prepare("SELECT entry FROM entries WHERE idx = 2").get() as { entry: Buffer };
    const edited = Buffer.from(row.entry);
    const needle = Buffer.from('"€":1}', "utf8");
    const at = edited.indexOf(needle);
    expect(at).toBeGreaterThan(0);
    edited[at + needle.length - 2] = 0x37; // {"€":1} → {"€":7}: still a valid canonical record, same length
    sqlite.prepare("UPDATE entries SET entry = ? WHERE idx = 2").run(edited);
    sqlite.close();
    expect(edited.equals(row.entry)).toBe(false);
    const bad = kenshin(["ledger", "fsck", "--db", tampered, "--verifier", vkeyText]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({
      ok: false,
      code: "LEDGER_LEAF_HASH_MISMATCH",
      firstBadIndex: 2,
    });

    expectFailure(
      kenshin(["ledger", "fsck", "--db", join(dir, "missing.db"), "--verifier", vkeyText]),
      2,
      "LEDGER_DB_UNUSABLE",
    );
    const garbage = kenshin(["ledger", "fsck", "--db", db, "--verifier", "not-a-key"]);
    expectFailure(garbage, 2, "LEDGER_VERIFIER_KEY_INVALID");
    expect(garbage.out).toBe("");
    const notSqlite = join(dir, "not-sqlite.db");
    writeFileSync(notSqlite, "this is not a database, just text\n".repeat(200));
    expectFailure(
      kenshin(["ledger", "fsck", "--db", notSqlite, "--verifier", vkeyText]),
      2,
      "LEDGER_DB_UNUSABLE",
    );
    // A well-formed key of another log: the stored checkpoints do not verify under it → a failure (1).
    const stranger = kenshinVkey(join(dir, "stranger.db"));
    const wrong = kenshin(["ledger", "fsck", "--db", db, "--verifier", stranger]);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.out)).toMatchObject({
      ok: false,
      code: "LEDGER_CHECKPOINT_UNSIGNED",
      firstBadIndex: null,
    });
  });
});

/** The verifier key a log file was created with (as init printed it). */
function kenshinVkey(dbPath: string): string {
  const storage = openSqliteLog(dbPath);
  try {
    return storage.verifierKey;
  } finally {
    storage.close();
  }
}

describe("kenshin verify (built CLI, a real conversion)", () => {
  let db: string;
  let vkeyText: string;
  let standard: string;
  let fileHash: string;
  let recordHashes: string[];
  let conversionIndex: number;

  const verify = (file: string, ...extra: string[]): Run =>
    kenshin(["verify", file, "--db", db, "--verifier", vkeyText, ...extra]);

  it("sets up: init, convert examples/long-utf8, a conversion entry committing to the record hashes", async () => {
    db = join(dir, "verify.db");
    const keyFile = join(dir, "verify.key");
    const init = kenshin([
      "ledger",
      "init",
      "--db",
      db,
      "--key",
      keyFile,
      "--origin",
      "kenshin.example/verify",
    ]);
    expect(init.code).toBe(0);
    vkeyText = init.out.trim();

    standard = join(dir, "standard.csv");
    const hashesCsv = join(dir, "hashes.csv");
    const input = "examples/long-utf8/export.csv";
    const conv = kenshin([
      "convert",
      input,
      "--map",
      "examples/long-utf8/mapping.yaml",
      "--out",
      standard,
      "--hashes",
      hashesCsv,
      "--quiet",
    ]);
    expect(conv.code).toBeLessThanOrEqual(1); // the example has row-level issues on purpose
    const rows = readFileSync(hashesCsv, "utf8")
      .split(/\r?\n/)
      .filter((l) => l !== "")
      .slice(1)
      .map((l) => l.split(","));
    fileHash = rows.find((r) => r[0] === "file")?.[2] ?? "";
    recordHashes = rows.filter((r) => r[0] === "record").map((r) => r[2] ?? "");
    const bytes = readFileSync(standard);
    expect(fileHash).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(recordHashes.length).toBeGreaterThanOrEqual(3);

    const signer = createNoteSigner(readKeyFile(keyFile));
    const ledger = new Ledger({ storage: openSqliteLog(db) });
    try {
      const common = {
        time: "2025-06-03T01:02:03.000Z",
        actor: { id: "user-1", role: "sender" as const },
        institution: "1312345678",
        outcome: "success" as const,
        source: { observer: "node-a" },
      };
      const base = { ...common, transfer: "T-verify-1" };
      const inputSha = createHash("sha256").update(readFileSync(input)).digest("hex");
      await ledger.append([{ record: { ...common, type: "note", data: { before: true } } }]);
      await ledger.append([
        { record: { ...base, type: "upload", receiver: "INS-RECV-1", file: { sha256: inputSha } } },
      ]);
      const [conv1] = await ledger.append([
        {
          record: {
            ...base,
            type: "conversion",
            input: { sha256: inputSha },
            output: { sha256: fileHash, bytes: bytes.length },
            records: recordsCommitment(recordHashes),
            rejected: 0,
          },
          recordHashes,
        },
      ]);
      conversionIndex = conv1?.index ?? -1;
      ledger.signCheckpoint(signer);
    } finally {
      ledger.close();
    }
    expect(conversionIndex).toBe(2);
  });

  interface TrailJson {
    ok: boolean;
    fileSha256: string;
    checkpoint: { origin: string; size: number; root: string };
    entries: { index: number; leafHash: string; matched: string; record: { type: string } }[];
    records: { total: number; proven: number; byEntry: Record<string, number> };
  }

  it("the converted file verifies (exit 0) with its trail: the transfer's upload and its conversion", () => {
    const r = verify(standard, "--json");
    expect(r.code).toBe(0);
    const trail = JSON.parse(r.out) as TrailJson;
    expect(trail).toMatchObject({
      ok: true,
      fileSha256: fileHash,
      checkpoint: { origin: "kenshin.example/verify", size: 3 },
      records: { total: recordHashes.length, proven: recordHashes.length },
    });
    expect(trail.entries.map((e) => [e.index, e.record.type, e.matched])).toEqual([
      [1, "upload", "transfer"],
      [2, "conversion", "file"],
    ]);
    const leaf = kenshin(["ledger", "entry", "--db", db, "--index", "2"]).stdout;
    expect(trail.entries[1]?.leafHash).toBe(leafHashOf(leaf));
    // The human-readable form succeeds too.
    const text = verify(standard);
    expect(text.code).toBe(0);
    expect(text.out).toContain(fileHash);
  });

  it("a copy with one byte of a record changed does not verify (exit 1)", () => {
    const bytes = Buffer.from(readFileSync(standard));
    const firstRecord = bytes.indexOf("\r\n") + 2;
    const at = bytes.indexOf(",", firstRecord) + 1;
    bytes[at] = bytes[at] === 0x39 ? 0x38 : 0x39;
    const altered = join(dir, "altered.csv");
    writeFileSync(altered, bytes);
    const r = verify(altered, "--json");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kenshin: LEDGER_[A-Z_]+: /m);
    // The file is not in the log and neither is record 1; records 2, 3… alone must not vouch for it.
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      fileSha256: createHash("sha256").update(bytes).digest("hex"),
      code: "LEDGER_NOT_FOUND",
      context: { unprovenRecords: [1] },
    });
  });

  it("one record with the header row verifies on its own by its two-level proof (exit 0)", () => {
    const bytes = readFileSync(standard);
    const header = bytes.subarray(0, bytes.indexOf("\r\n") + 2);
    const lines = bytes.toString("utf8").split("\r\n");
    // Records of this example hold no line breaks: line n+1 is record n.
    const second = Buffer.from(`${lines[2] ?? ""}\r\n`, "utf8");
    expect(createHash("sha256").update(second.subarray(0, -2)).digest("hex")).toBe(recordHashes[1]);
    const one = join(dir, "one-record.csv");
    writeFileSync(one, Buffer.concat([header, second]));
    const r = verify(one, "--json");
    expect(r.code).toBe(0);
    const trail = JSON.parse(r.out) as TrailJson;
    expect(trail.records).toEqual({ total: 1, proven: 1, byEntry: { [conversionIndex]: 1 } });
    expect(trail.entries.find((e) => e.index === conversionIndex)?.matched).toBe("record");

    // verify reads the first line of any file as the header row, so a record line saved without the
    // header names no record and is not found (exit 1).
    const bare = join(dir, "bare-record.csv");
    writeFileSync(bare, second);
    const b = verify(bare, "--json");
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/^kenshin: LEDGER_NOT_FOUND: /m);
  });

  it("another log's verifier key → exit 1; a missing file or ledger → exit 2", () => {
    const stranger = kenshinVkey(join(dir, "stranger.db"));
    expect(stranger).not.toBe(vkeyText);
    const r = kenshin(["verify", standard, "--db", db, "--verifier", stranger]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kenshin: LEDGER_CHECKPOINT_UNSIGNED: /m);
    expectFailure(verify(join(dir, "no-such.csv")), 2, "LEDGER_NOT_FOUND");
    expectFailure(
      kenshin(["verify", standard, "--db", join(dir, "no-such.db"), "--verifier", vkeyText]),
      2,
      "LEDGER_DB_UNUSABLE",
    );
  });
});
