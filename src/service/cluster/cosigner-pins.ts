/**
 * What the service shows of the cluster's cosigner policy, for verifiers to pin like the log key: the
 * pinned witness keys of the online nodes and the quorum (`cosigners.txt`, `kenshin cluster init`), as
 * the text `ledger/verify/cosigner-list.ts` reads. A single node has none (empty text). Not a secret:
 * the browser pins it on first use together with the log key (web/src/verifier-pin.ts), so a later
 * answer without cosigners, or with other keys, does not lower what its verification requires.
 */
import { readCosignerPolicy } from "../../cluster/node-ledger-port.js";
import { formatCosignerList } from "../../ledger/verify/cosigner-list.js";
import type { ServiceContext } from "../context.js";

const served = new WeakMap<ServiceContext, string>();

/** The cosigner list as text (`quorum N` + one vkey per line); "" on a single node. */
export function servedCosignerList(ctx: ServiceContext): string {
  if (ctx.cluster === undefined) return "";
  const known = served.get(ctx);
  if (known !== undefined) return known;
  const text = formatCosignerList(readCosignerPolicy(ctx.paths.dir));
  served.set(ctx, text);
  return text;
}
