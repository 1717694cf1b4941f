/**
 * The ledger's stable CLI contract (issue 3, "CLI"), exercised through the built CLI in child processes:
 * `kenshin ledger init|append|entry|checkpoint|proof|consistency|fsck` (`kenshin verify`:
 * verify-cli.int.test.ts). Every proof the CLI prints is checked with the pure verifier
 * (`src/ledger/verify/`) against a checkpoint whose signature was checked with the verifier key `init`
 * printed — never against a root the same command printed alone. Assertions are on exit codes, stdout
 * JSON/bytes and the `kenshin: <CODE>:` prefix, not on message text.
 */
import Database from "better-sqlite3";
import canonicalize from "canonicalize";
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readKeyFile } from "../src/crypto/key-file.js";
import { openCheckpoint, type Checkpoint } from "../src/ledger/verify/checkpoint.js";
import { verifyConsistency } from "../src/ledger/verify/consistency.js";
import { fromHex, toHex } from "../src/ledger/verify/encoding.js";
import { verifyInclusion } from "../src/ledger/verify/inclusion.js";
import { parseVerifierKey, type VerifierKey } from "../src/ledger/verify/verifier-key.js";
import { expectFailure, kenshin, kenshinVkey, leafHashOf, type Run } from "./support/kenshin-cli.js";

const ORIGIN = "kenshin.example/cli-test";
const HEX64 = /^[0-9a-f]{64}$/;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-ledger-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
