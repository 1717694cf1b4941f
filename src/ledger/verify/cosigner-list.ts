/**
 * The text form of a cluster's cosigner policy, as `kenshin cluster init` writes it to `cosigners.txt`
 * and the service answers it at `GET /api/v1/ledger/cosigners` for the browser to pin (like the log
 * key): `quorum N`, then one witness verifier key (type 0x04) per line; blank lines and `#` comments are
 * ignored. Empty text is "no cosigners" (a single node). Pure: the browser runs it.
 */
import { LedgerError } from "../errors.js";
import { checkCosignerPolicy, type CosignerPolicy } from "./published-checkpoint.js";
import { formatVerifierKey, parseVerifierKey, type VerifierKey } from "./verifier-key.js";

/**
 * Parses the text; undefined when it names no cosigner at all. The policy is checked against the log key.
 * @throws LedgerError LEDGER_COSIGNER_POLICY_INVALID
 */
export function parseCosignerList(text: string, logKey: VerifierKey): CosignerPolicy | undefined {
  let quorum: number | undefined;
  const lines: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const q = /^quorum ([0-9]{1,2})$/.exec(line);
    if (q !== null) quorum = Number(q[1]);
    else lines.push(line);
  }
  if (lines.length === 0 && quorum === undefined) return undefined;
  let cosigners: VerifierKey[];
  try {
    cosigners = lines.map((l) => parseVerifierKey(l));
  } catch (cause) {
    throw new LedgerError(
      "LEDGER_COSIGNER_POLICY_INVALID",
      "連署者の一覧の鍵が正しくありません",
      { reason: "連署鍵" },
      { cause },
    );
  }
  const policy = { cosigners, quorum: quorum ?? Math.floor(cosigners.length / 2) + 1 };
  checkCosignerPolicy(policy, logKey);
  return policy;
}

/** The policy as text (`quorum N` and one key per line), the form {@link parseCosignerList} reads. */
export function formatCosignerList(policy: CosignerPolicy): string {
  const keys = policy.cosigners.map((k) => formatVerifierKey(k.name, k.type, k.publicKey));
  return `quorum ${policy.quorum}\n${keys.map((k) => `${k}\n`).join("")}`;
}
