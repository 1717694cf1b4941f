/**
 * `kenshin verify <file> --url <service> …`: asks the service (with the caller's client certificate,
 * ID and password) for the trail of a file — or of each of its records — and verifies every signature
 * and proof locally against a pinned verifier key, so nothing the service says is taken on trust.
 */
import { readFileSync } from "node:fs";
import { createApiClient, errorCode, type ApiClient } from "../client/api-client.js";
import { recordHashesOf, sha256Hex } from "../format/hash.js";
import { LedgerError } from "../ledger/errors.js";
import { verifyRemoteTrail, type VerifiedRemoteTrail } from "../ledger/verify/remote-trail.js";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";

export interface RemoteOptions {
  readonly url: string;
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  readonly pfx?: string;
  readonly pfxPasswordEnv?: string;
  readonly id: string;
  readonly passwordEnv: string;
  /** A cluster's pinned node keys and quorum: only a published (quorum-cosigned) checkpoint passes. */
  readonly cosigners?: CosignerPolicy;
}

/** Most records looked up one by one when the file itself is not in the log. */
const MAX_RECORD_LOOKUPS = 200;

export async function verifyRemote(
  bytes: Uint8Array,
  logKey: VerifierKey,
  o: RemoteOptions,
): Promise<{ fileSha256: string; trails: VerifiedRemoteTrail[]; by: "file" | "records" }> {
  const password = process.env[o.passwordEnv];
  if (password === undefined || password === "") {
    throw new LedgerError("LEDGER_NOT_FOUND", `パスワードを環境変数 ${o.passwordEnv} に設定してください`);
  }
  const client = createApiClient({
    baseUrl: o.url,
    // The service's address (a cluster's load balancer): a node's INTEGRITY_FAILURE is asked again. On a
    // single node the same refusal comes back, a few seconds later.
    loadBalanced: true,
    caPem: readFileSync(o.ca, "utf8"),
    ...(o.pfx !== undefined
      ? {
          pfx: readFileSync(o.pfx),
          passphrase: process.env[o.pfxPasswordEnv ?? "KENSHIN_PFX_PASSWORD"] ?? "",
        }
      : { certPem: readFileSync(o.cert ?? "", "utf8"), keyPem: readFileSync(o.key ?? "", "utf8") }),
  });
  try {
    const login = await client.login(o.id, password);
    if (login.status !== 201) {
      throw new LedgerError(
        "LEDGER_NOT_FOUND",
        `ログインできません (${errorCode(login) ?? String(login.status)})`,
      );
    }
    const fileSha256 = sha256Hex(bytes);
    const trust = { logKey, ...(o.cosigners === undefined ? {} : { cosigners: o.cosigners }) };
    const whole = await lookup(client, fileSha256);
    if (whole !== undefined)
      return { fileSha256, trails: [verifyRemoteTrail(whole, { ...trust, fileSha256 })], by: "file" };
    // Not the file itself: every record must be found and proven (an edited copy must not pass on the
    // strength of its other records).
    const records = recordHashesOf(bytes);
    if (records.length === 0 || records.length > MAX_RECORD_LOOKUPS) {
      throw new LedgerError("LEDGER_NOT_FOUND", "このファイルは台帳にありません");
    }
    const trails: VerifiedRemoteTrail[] = [];
    for (const [i, recordHash] of records.entries()) {
      const answer = await lookup(client, recordHash);
      if (answer === undefined) {
        throw new LedgerError("LEDGER_NOT_FOUND", `${i + 1} 件目のレコードは台帳にありません`, {
          record: i + 1,
        });
      }
      trails.push(verifyRemoteTrail(answer, { ...trust, recordHash }));
    }
    return { fileSha256, trails, by: "records" };
  } finally {
    await client.logout().catch(() => undefined);
    client.close();
  }
}

async function lookup(client: ApiClient, sha256: string): Promise<unknown> {
  const r = await client.post("/api/v1/lookup", { sha256 });
  if (r.status === 404) return undefined;
  if (r.status !== 200)
    throw new LedgerError("LEDGER_NOT_FOUND", `照会できません (${errorCode(r) ?? String(r.status)})`);
  return r.json;
}

export function describeRemote(
  file: string,
  result: Awaited<ReturnType<typeof verifyRemote>>,
  seals: readonly string[] = [],
): string {
  const lines = [`検証対象: ${file}`, `ファイル SHA-256: ${result.fileSha256}`];
  for (const t of result.trails) {
    lines.push(`チェックポイント: ${t.checkpoint.origin} 大きさ ${t.checkpoint.size} (署名を検証しました)`);
    if (t.cosignatures.length > 0) {
      lines.push(
        `  連署: ${t.cosignatures.map((c) => c.name).join(", ")} (定足数を満たす連署を検証しました)`,
      );
    }
    for (const e of t.entries) {
      const r = e.record;
      lines.push(
        `  #${e.index} ${r.time} ${r.type} ${r.institution}/${r.actor.id} ${r.outcome} (包含証明を検証しました)`,
      );
    }
  }
  lines.push(...seals);
  lines.push(
    result.by === "file"
      ? "結果: 検証成功 (ファイルそのものが台帳にあります)"
      : `結果: 検証成功 (${result.trails.length} 件のレコードすべてを二段階証明で確認しました)`,
  );
  return `${lines.join("\n")}\n`;
}

export function readFileForVerify(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new LedgerError("LEDGER_NOT_FOUND", "検証するファイルを読めません", {}, { cause });
  }
}
