/**
 * `kenshin verify` through the built CLI in child processes, on a real conversion: the converted file,
 * one changed byte, one record with the header row by its two-level proof, another log's verifier key
 * and missing inputs. Assertions are on exit codes and the `kenshin: <CODE>:` prefix, not on message
 * text. (The `kenshin ledger …` commands: ledger-cli.int.test.ts.)
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readKeyFile } from "../src/crypto/key-file.js";
import { createNoteSigner } from "../src/crypto/note-signer.js";
import { recordsCommitment } from "../src/ledger/entry/records-commitment.js";
import { Ledger } from "../src/ledger/ledger.js";
import { openSqliteLog } from "../src/store/sqlite-log.js";
import { expectFailure, kenshin, kenshinVkey, leafHashOf, type Run } from "./support/kenshin-cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-verify-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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
    // Another log (the origin ledger-cli.int.test.ts uses), made here so this file stands alone.
    const strangerDb = join(dir, "stranger.db");
    expect(
      kenshin([
        "ledger",
        "init",
        "--db",
        strangerDb,
        "--key",
        join(dir, "stranger.key"),
        "--origin",
        "kenshin.example/cli-test",
      ]).code,
    ).toBe(0);
    const stranger = kenshinVkey(strangerDb);
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
