/**
 * `kenshin verify <file> --db <ledger> --verifier <vkey>`: hashes the file (and its records when it is a
 * standard CSV), finds its entries, verifies signatures and proofs, and prints the trail. Exit 1 when
 * anything fails to verify or nothing is found; 2 when the input cannot be used.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { recordHashesOf, sha256Hex } from "../format/hash.js";
import { isVerificationFailure, LedgerError } from "../ledger/errors.js";
import { verifyTrail, type Trail } from "../ledger/trail.js";
import { toBase64 } from "../ledger/verify/encoding.js";
import { EXIT_ISSUES } from "./exit-codes.js";
import { readVerifierKey, withLedger } from "./ledger.js";
import { caPemFor, checkSeals, sealLines } from "./seal-report.js";
import { describeRemote, readFileForVerify, verifyRemote } from "./verify-remote.js";
import { checkCosignerPolicy, type CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";

interface VerifyFlags {
  db?: string;
  url?: string;
  verifier: string;
  ca?: string;
  cert?: string;
  key?: string;
  pfx?: string;
  pfxPasswordEnv: string;
  id?: string;
  passwordEnv: string;
  json?: boolean;
  cosigner: string[];
  quorum?: string;
}

/** The cosigner policy of --cosigner/--quorum: every pinned node key, quorum a majority unless given. */
function cosignerPolicy(o: VerifyFlags, logKey: VerifierKey): CosignerPolicy | undefined {
  if (o.cosigner.length === 0) {
    if (o.quorum !== undefined)
      throw new LedgerError("LEDGER_COSIGNER_POLICY_INVALID", "--quorum には --cosigner が必要です");
    return undefined;
  }
  const cosigners = o.cosigner.map((k) => readVerifierKey(k));
  const quorum =
    o.quorum === undefined ? Math.floor(cosigners.length / 2) + 1 : Number.parseInt(o.quorum, 10);
  if (o.quorum !== undefined && !/^[1-9][0-9]?$/.test(o.quorum)) {
    throw new LedgerError("LEDGER_COSIGNER_POLICY_INVALID", "--quorum は 1 以上の整数です");
  }
  const policy = { cosigners, quorum };
  checkCosignerPolicy(policy, logKey);
  return policy;
}

async function runRemote(file: string, key: VerifierKey, o: VerifyFlags): Promise<void> {
  if (
    o.url === undefined ||
    o.ca === undefined ||
    o.id === undefined ||
    (o.pfx === undefined && (o.cert === undefined || o.key === undefined))
  ) {
    throw new LedgerError(
      "LEDGER_DB_UNUSABLE",
      "--url には --ca、--id と --pfx (または --cert と --key) が必要です",
    );
  }
  const bytes = readFileForVerify(file);
  const cosigners = cosignerPolicy(o, key);
  try {
    const result = await verifyRemote(bytes, key, {
      ...(cosigners === undefined ? {} : { cosigners }),
      url: o.url,
      ca: o.ca,
      id: o.id,
      passwordEnv: o.passwordEnv,
      ...(o.pfx !== undefined
        ? { pfx: o.pfx, pfxPasswordEnv: o.pfxPasswordEnv }
        : { cert: o.cert ?? "", key: o.key ?? "" }),
    });
    const seals = await checkSeals(
      result.trails.flatMap((t) => t.entries.map((e) => e.record)),
      result.fileSha256,
      bytes,
      caPemFor({ ca: o.ca }),
    );
    process.stdout.write(
      o.json === true
        ? `${JSON.stringify({ ok: true, fileSha256: result.fileSha256, by: result.by, cosignatures: result.trails[0]?.cosignatures ?? [], entries: result.trails.flatMap((t) => t.entries), seals })}\n`
        : describeRemote(file, result, sealLines(seals)),
    );
    if (seals.some((x) => !x.ok && x.code !== "NO_CA")) process.exitCode = EXIT_ISSUES;
  } catch (error) {
    if (!(error instanceof LedgerError)) throw error;
    process.stdout.write(
      o.json === true ? `${JSON.stringify({ ok: false, code: error.code })}\n` : "結果: 検証失敗\n",
    );
    process.stderr.write(`kenshin: ${error.code}: ${error.message}\n`);
    process.exitCode = EXIT_ISSUES;
  }
}

/** Registers `verify`. */
export function registerVerifyCommand(program: Command): void {
  program
    .command("verify <file>")
    .description("ファイルのハッシュから台帳の記録を探し、包含証明と署名を検証して経緯を表示する")
    .option("--db <ledger>", "台帳ファイル (ノード上で直接検証する場合)")
    .option("--url <service>", "サービスの URL (サービスに照会して手元で検証する場合)")
    .requiredOption(
      "--verifier <vkey>",
      "ログの検証鍵 (文字列または検証鍵ファイル; 事前に入手して固定したもの)",
    )
    .option("--ca <pem>", "サービスの CA 証明書 (--url のとき)")
    .option("--cert <pem>", "クライアント証明書 (PEM)")
    .option("--key <pem>", "クライアント証明書の秘密鍵 (PEM)")
    .option("--pfx <p12>", "クライアント証明書 (PKCS#12; パスワードは --pfx-password-env の環境変数)")
    .option("--pfx-password-env <name>", "PKCS#12 のパスワードを入れた環境変数", "KENSHIN_PFX_PASSWORD")
    .option("--id <loginId>", "利用者ID")
    .option("--password-env <name>", "パスワードを入れた環境変数", "KENSHIN_PASSWORD")
    .option(
      "--cosigner <vkey>",
      "クラスタのノードの連署鍵 (繰り返し指定; 事前に入手して固定したもの)。指定すると定足数の連署がある公開済みチェックポイントだけを受け入れる (--url のとき)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--quorum <n>", "必要な連署の数 (既定: --cosigner の過半数)")
    .option("--json", "結果を JSON で出力する")
    .action(async (file: string, o: VerifyFlags) => {
      const key = readVerifierKey(o.verifier);
      if (o.url === undefined && o.cosigner.length > 0) {
        throw new LedgerError(
          "LEDGER_COSIGNER_POLICY_INVALID",
          "--cosigner は --url と使います (台帳ファイルには連署がまだ保存されません)",
        );
      }
      if (o.url !== undefined) {
        await runRemote(file, key, o);
        return;
      }
      if (o.db === undefined)
        throw new LedgerError("LEDGER_DB_UNUSABLE", "--db または --url を指定してください");
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (cause) {
        throw new LedgerError("LEDGER_NOT_FOUND", "検証するファイルを読めません", {}, { cause });
      }
      const fileSha256 = sha256Hex(bytes);
      const recordHashes = recordHashesOf(bytes);
      const db = o.db;
      await withLedger(db, async (log) => {
        try {
          const trail = verifyTrail({ storage: log.storage, logKey: key, fileSha256, recordHashes });
          const seals = await checkSeals(
            trail.entries.map((e) => e.record),
            fileSha256,
            bytes,
            caPemFor({ ca: o.ca, db }),
            dirname(db),
          );
          process.stdout.write(
            o.json === true
              ? `${JSON.stringify({ ...(trailJson(trail) as object), seals })}\n`
              : describe(file, trail, sealLines(seals)),
          );
          if (seals.some((x) => !x.ok && x.code !== "NO_CA")) process.exitCode = EXIT_ISSUES;
        } catch (error) {
          if (
            !isVerificationFailure(error) &&
            !(error instanceof LedgerError && error.code === "LEDGER_NOT_FOUND")
          )
            throw error;
          process.stdout.write(
            o.json === true
              ? `${JSON.stringify({ ok: false, fileSha256, code: error.code, context: error.context })}\n`
              : `ファイル SHA-256: ${fileSha256}\n結果: 検証失敗\n`,
          );
          process.stderr.write(`kenshin: ${error.code}: ${error.message}\n`);
          process.exitCode = EXIT_ISSUES;
        }
      });
    });
}

function trailJson(trail: Trail): unknown {
  return {
    ok: true,
    fileSha256: trail.fileSha256,
    checkpoint: {
      origin: trail.checkpoint.origin,
      size: trail.checkpoint.size,
      root: toBase64(trail.checkpoint.root),
    },
    entries: trail.entries.map((e) => ({
      index: e.index,
      leafHash: e.leafHash,
      matched: e.matched,
      record: e.record,
    })),
    records: trail.records,
  };
}

const MATCH_LABEL = { file: "ファイル", transfer: "同じ転送", record: "レコード" } as const;

function describe(file: string, trail: Trail, seals: readonly string[]): string {
  const cp = trail.checkpoint;
  const lines = [
    `検証対象: ${file}`,
    `ファイル SHA-256: ${trail.fileSha256}`,
    `チェックポイント: ${cp.origin} 大きさ ${cp.size} 根 ${toBase64(cp.root)} (署名を検証しました)`,
    "エントリ (すべて包含証明を検証しました):",
  ];
  for (const e of trail.entries) {
    const r = e.record;
    const transfer = "transfer" in r ? ` 転送 ${r.transfer}` : "";
    lines.push(
      `  #${e.index} ${r.time} ${r.type}${transfer} ${r.institution}/${r.actor.id} [${MATCH_LABEL[e.matched]}] ${r.outcome}`,
    );
  }
  const { total, proven, byEntry } = trail.records;
  if (total > 0) {
    const where = Object.entries(byEntry)
      .map(([i, n]) => `#${i}: ${n} 件`)
      .join(", ");
    lines.push(
      `レコード: ${total} 件中 ${proven} 件を二段階証明で確認しました${where === "" ? "" : ` (${where})`}`,
    );
  }
  lines.push(...seals);
  const fileFound = trail.entries.some((e) => e.matched === "file");
  lines.push(
    fileFound
      ? "結果: 検証成功 (ファイルそのものが台帳にあります)"
      : "結果: 検証成功 (レコード単位で台帳にあります)",
  );
  return `${lines.join("\n")}\n`;
}
