/**
 * `kenshin ledger …`: init, append, entry, checkpoint, proof, consistency, fsck. Thin: each sub-command
 * parses flags, calls the ledger, prints, and maps the outcome to an exit code (stable contract, see the
 * README "Ledger" section).
 */
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { readKeyFile, writeKeyFile } from "../crypto/key-file.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import type { RecordInput } from "../ledger/entry/operation-record.js";
import { LedgerError } from "../ledger/errors.js";
import { isCodedError } from "../coded-error.js";
import { compareWithRemembered } from "../service/signing/checkpoint-memory.js";
import { Ledger } from "../ledger/ledger.js";
import { parseVerifierKey, type VerifierKey } from "../ledger/verify/verifier-key.js";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import { fsckLogFile } from "../store/sqlite-log-fsck.js";
import { EXIT_ISSUES } from "./exit-codes.js";

/** Appends per transaction when reading stdin: bounded memory, still few fsyncs. */
const APPEND_CHUNK = 1000;

/** Registers the `ledger` command group. */
export function registerLedgerCommands(program: Command): void {
  const ledger = program.command("ledger").description("検証可能な台帳 (RFC 9162 Merkle ログ) の操作");

  ledger
    .command("init")
    .description("台帳と Ed25519 署名鍵を作り、検証鍵 (signed-note 形式) を表示する")
    .requiredOption("--db <file>", "台帳ファイル (SQLite)")
    .requiredOption("--key <keyfile>", "作成する署名鍵ファイル")
    .requiredOption("--origin <name>", "ログの名前 (チェックポイントの origin、例 kenshin.example/log)")
    .action((o: { db: string; key: string; origin: string }) => {
      if (existsSync(o.db)) throw new LedgerError("LEDGER_DB_EXISTS", "台帳ファイルが既にあります");
      const key = generateNoteKey(o.origin);
      writeKeyFile(o.key, key);
      const signer = createNoteSigner(key);
      const log = new Ledger({
        storage: createSqliteLog({ path: o.db, origin: o.origin, verifierKey: signer.verifierKey }),
      });
      try {
        log.signCheckpoint(signer);
      } finally {
        log.close();
      }
      process.stdout.write(`${signer.verifierKey}\n`);
    });

  ledger
    .command("append")
    .description(
      "標準入力の JSON オブジェクト (1 行 1 件) を note エントリとして追記し、チェックポイントに署名する",
    )
    .requiredOption("--db <file>", "台帳ファイル")
    .requiredOption("--key <keyfile>", "署名鍵ファイル")
    .option("--actor <id>", "記録する操作者 ID", "kenshin-cli")
    .option("--institution <id>", "記録する機関 ID", "-")
    .action(async (o: { db: string; key: string; actor: string; institution: string }) => {
      const signer = createNoteSigner(readKeyFile(o.key));
      const lines = readFileSync(0, "utf8").split("\n");
      const records: RecordInput[] = [];
      lines.forEach((line, i) => {
        if (line.trim() === "") return;
        records.push(noteRecord(parseObjectLine(line, i + 1), o.actor, o.institution, signer.name));
      });
      await withLedger(o.db, async (log) => {
        for (let i = 0; i < records.length; i += APPEND_CHUNK) {
          const results = await log.append(records.slice(i, i + APPEND_CHUNK).map((record) => ({ record })));
          process.stdout.write(
            results.map((r) => JSON.stringify({ index: r.index, leafHash: r.leafHash })).join("\n") + "\n",
          );
        }
        log.signCheckpoint(signer);
      });
    });

  ledger
    .command("entry")
    .description("エントリの正規形バイト列 (RFC 8785) をそのまま出力する")
    .requiredOption("--db <file>", "台帳ファイル")
    .requiredOption("--index <n>", "エントリ番号")
    .action((o: { db: string; index: string }) =>
      withLedger(o.db, (log) => {
        process.stdout.write(log.entry(parseCount(o.index, "--index")));
      }),
    );

  ledger
    .command("checkpoint")
    .description("最新の署名済みチェックポイント (C2SP signed note) を出力する")
    .requiredOption("--db <file>", "台帳ファイル")
    .action((o: { db: string }) =>
      withLedger(o.db, (log) => {
        process.stdout.write(log.latestCheckpoint().note);
      }),
    );

  ledger
    .command("proof")
    .description("包含証明を JSON で出力する (既定の木の大きさ: 最新チェックポイント)")
    .requiredOption("--db <file>", "台帳ファイル")
    .option("--index <n>", "エントリ番号")
    .option("--leaf-hash <hex>", "葉ハッシュ (16進)")
    .option("--size <s>", "木の大きさ")
    .action((o: { db: string; index?: string; leafHash?: string; size?: string }) =>
      withLedger(o.db, (log) => {
        if ((o.index === undefined) === (o.leafHash === undefined)) {
          throw new LedgerError(
            "LEDGER_INDEX_OUT_OF_RANGE",
            "--index か --leaf-hash のどちらか一方を指定してください",
          );
        }
        const index =
          o.index !== undefined ? parseCount(o.index, "--index") : log.indexOfLeafHash(o.leafHash ?? "");
        const size = o.size === undefined ? undefined : parseCount(o.size, "--size");
        process.stdout.write(`${JSON.stringify(log.inclusionProof(index, size))}\n`);
      }),
    );

  ledger
    .command("consistency")
    .description("一貫性証明を JSON で出力する (既定の --to: 最新チェックポイント)")
    .requiredOption("--db <file>", "台帳ファイル")
    .requiredOption("--from <a>", "古い木の大きさ")
    .option("--to <b>", "新しい木の大きさ")
    .action((o: { db: string; from: string; to?: string }) =>
      withLedger(o.db, (log) => {
        const to = o.to === undefined ? undefined : parseCount(o.to, "--to");
        process.stdout.write(`${JSON.stringify(log.consistencyProof(parseCount(o.from, "--from"), to))}\n`);
      }),
    );

  ledger
    .command("fsck")
    .description("保存された全エントリから木を再計算し、署名済みチェックポイントと照合する")
    .requiredOption("--db <file>", "台帳ファイル")
    .requiredOption("--verifier <vkey>", "ログの検証鍵 (文字列または検証鍵ファイル)")
    .option(
      "--remembered <note>",
      "ノードが最後に確認したチェックポイント (データディレクトリの ledger-head.note): 台帳が巻き戻っていないかも確認する",
    )
    .option(
      "--latest-signature",
      "署名の検証は最新のチェックポイントだけにする (他のチェックポイントも根ハッシュは照合する)",
    )
    .action(async (o: { db: string; verifier: string; remembered?: string; latestSignature?: true }) => {
      const key = readVerifierKey(o.verifier);
      // The entries are checked in worker threads (one per core, at most 4), the tree in this one.
      const result = await fsckLogFile(o.db, key, { signatures: o.latestSignature ? "latest" : "all" });
      return withLedger(o.db, (log) => {
        if (result.ok && o.remembered !== undefined) {
          // A shorter, older ledger passes fsck on its own; compared with the node's memory it does not.
          try {
            compareWithRemembered(log, formatVerifierKeyArg(o.verifier), readFileSync(o.remembered, "utf8"));
          } catch (error) {
            if (!isCodedError(error)) throw error;
            process.stdout.write(`${JSON.stringify({ ok: false, code: error.code, ...error.context })}\n`);
            process.stderr.write(`kenshin: ${error.code}: ${error.message}\n`);
            process.exitCode = EXIT_ISSUES;
            return;
          }
        }
        process.stdout.write(`${JSON.stringify(result)}\n`);
        if (!result.ok) {
          const where =
            result.firstBadIndex === null ? "" : ` (最初の不正なエントリ: #${result.firstBadIndex})`;
          process.stderr.write(`kenshin: ${result.code}: ${result.message}${where}\n`);
          process.exitCode = EXIT_ISSUES;
        }
      });
    });
}

/** Opens a log file for one command and closes it afterwards. */
export async function withLedger<T>(db: string, fn: (log: Ledger) => T | Promise<T>): Promise<T> {
  const log = new Ledger({ storage: openSqliteLog(db) });
  try {
    return await fn(log);
  } finally {
    log.close();
  }
}

/** The vkey text given inline or as the path of a file holding it. */
function formatVerifierKeyArg(arg: string): string {
  return existsSync(arg) ? readFileSync(arg, "utf8").trim() : arg;
}

/** A vkey given inline or as the path of a file holding it. */
export function readVerifierKey(arg: string): VerifierKey {
  const text = existsSync(arg) ? readFileSync(arg, "utf8").trim() : arg;
  return parseVerifierKey(text);
}

function parseCount(text: string, flag: string): number {
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new LedgerError("LEDGER_SIZE_INVALID", `${flag} は 0 以上の整数で指定してください`, { flag });
  }
  return Number(text);
}

function parseObjectLine(line: string, lineNumber: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new LedgerError(
      "LEDGER_ENTRY_INVALID",
      `${lineNumber} 行目が JSON ではありません`,
      { line: lineNumber },
      { cause },
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new LedgerError("LEDGER_ENTRY_INVALID", `${lineNumber} 行目が JSON オブジェクトではありません`, {
      line: lineNumber,
    });
  }
  return value as Record<string, unknown>;
}

function noteRecord(
  data: Record<string, unknown>,
  actor: string,
  institution: string,
  observer: string,
): RecordInput {
  return {
    type: "note",
    time: new Date().toISOString(),
    actor: { id: actor, role: "system" },
    institution,
    outcome: "success",
    source: { observer },
    data: data as Extract<RecordInput, { type: "note" }>["data"],
  };
}
