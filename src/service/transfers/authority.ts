/**
 * Who may see a transfer, and its hashes, come from the ledger, not from service.db alone. The
 * `transfers` row is a convenient index, but a row is only an editable SQLite row: before the service
 * uses one to authorise a party or to hand out a hash, the row is checked against the transfer's
 * entries — the upload entry names the sender (its institution) and the receiver and the original's
 * SHA-256; the conversion entry the standard file's SHA-256 and record count; the send entry (which is
 * what makes a transfer visible to its receiver) the receiver again. A transfer with no verified entry
 * at all is an integrity failure, never an empty trail.
 *
 * Operations on one transfer use the fully verified segment (inclusion proofs under the signed,
 * remembered checkpoint: transfer-integrity.ts). Lists use the same comparison on the entries' stored
 * bytes, re-hashed against their stored leaf hashes (no proof per row: a list of 500 would cost 500
 * segment verifications); a row that disagrees is left out of the list and raises the alarm.
 *
 * An entry's compared fields are a function of its bytes, and its bytes are fixed by its leaf hash
 * (SHA-256), so the fields of an entry whose bytes were once re-hashed to its stored leaf hash are kept
 * with its index and that leaf hash: a list then reads, per entry, only the stored leaf hash (32 bytes)
 * and uses the kept fields while index and leaf hash are the ones they were read under; the indices and
 * leaf hashes of a whole list come from one storage read (`keyedLeafHashesOf`), the bytes of the entries
 * not kept from one more (`entriesAt`). Only the verdict's inputs from the ledger are kept, never a verdict: every row is compared
 * again on every list, so an edited row is refused on the next list as on the first.
 */
import { nodeHasher } from "../../ledger/node-hasher.js";
import type { LedgerReader } from "../../ledger/read-port.js";
import { bytesEqual } from "../../ledger/verify/encoding.js";
import type { ServiceContext } from "../context.js";
import { raiseIntegrityAlarm, verifySegment, type VerifiedSegment } from "./integrity.js";
import type { TransferRow } from "./records.js";

/** The fields of an entry the comparison reads (an OperationRecord has them, and more). */
interface EntryFacts {
  readonly type: string;
  readonly transfer?: string | undefined;
  readonly institution: string;
  readonly receiver?: string | undefined;
  readonly file?: { readonly sha256: string } | undefined;
  readonly output?: { readonly sha256: string } | undefined;
  readonly records?: { readonly count: number } | undefined;
}

/** Why the row disagrees with the transfer's entries, or undefined when it agrees. */
export function disagreement(row: TransferRow, records: readonly EntryFacts[]): string | undefined {
  const mine = records.filter((r) => r.transfer === row.id);
  if (mine.length === 0) return "no verified entries";
  const uploads = mine.filter((r) => r.type === "upload");
  const upload = uploads[0];
  if (uploads.length !== 1 || upload === undefined) return "upload entry missing";
  if (upload.institution !== row.sender_id) return "sender differs from the upload entry";
  if (upload.receiver !== row.receiver_id) return "receiver differs from the upload entry";
  if (upload.file?.sha256 !== row.original_sha256) return "original hash differs from the upload entry";
  const conversion = mine.find((r) => r.type === "conversion");
  if (row.standard_sha256 !== null) {
    if (conversion === undefined) return "conversion entry missing";
    if (conversion.output?.sha256 !== row.standard_sha256)
      return "standard hash differs from the conversion entry";
    if (row.records !== null && conversion.records?.count !== row.records) return "record count differs";
  }
  const send = mine.find((r) => r.type === "send");
  if (row.sent_at !== null) {
    if (send === undefined) return "sent without a send entry";
    if (send.receiver !== row.receiver_id) return "receiver differs from the send entry";
  } else if (send !== undefined) {
    return "send entry for a transfer the row says is unsent";
  }
  return undefined;
}

/**
 * Verifies the transfer's ledger segment and checks the row against it.
 * @throws ServiceError INTEGRITY_FAILURE (with an alarm entry) when either fails
 */
export async function verifiedTransfer(ctx: ServiceContext, row: TransferRow): Promise<VerifiedSegment> {
  const segment = await verifySegment(ctx, `transfer:${row.id}`, row.id);
  const why = disagreement(
    row,
    segment.entries.map((e) => e.record),
  );
  if (why !== undefined) {
    return raiseIntegrityAlarm(ctx, {
      code: "INTEGRITY_FAILURE",
      description: `transfer ${row.id}: ${why}`,
      message: "転送の記録が台帳と一致しません。事務局に連絡してください",
      transferId: row.id,
    });
  }
  return segment;
}

function factsOf(bytes: Uint8Array): EntryFacts {
  const raw = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
  if (typeof raw !== "object" || raw === null) throw new Error("entry");
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const sha = (v: unknown) => {
    const h = str((v as { sha256?: unknown } | null | undefined)?.sha256);
    return h === undefined ? undefined : { sha256: h };
  };
  const count = (r["records"] as { count?: unknown } | null | undefined)?.count;
  const file = sha(r["file"]);
  const output = sha(r["output"]);
  const transfer = str(r["transfer"]);
  const receiver = str(r["receiver"]);
  return {
    type: str(r["type"]) ?? "",
    institution: str(r["institution"]) ?? "",
    ...(transfer !== undefined ? { transfer } : {}),
    ...(receiver !== undefined ? { receiver } : {}),
    ...(file !== undefined ? { file } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(typeof count === "number" ? { records: { count } } : {}),
  };
}

/** Entries kept per ledger reader (FIFO-bounded: about 200 bytes each). */
const KEPT_ENTRIES = 50_000;
const keptFacts = new WeakMap<
  LedgerReader,
  Map<number, { readonly leafHash: Uint8Array; readonly facts: EntryFacts }>
>();

type KeptFacts = Map<number, { readonly leafHash: Uint8Array; readonly facts: EntryFacts }>;

function keptOf(ledger: LedgerReader): KeptFacts {
  let kept = keptFacts.get(ledger);
  if (kept === undefined) {
    kept = new Map();
    keptFacts.set(ledger, kept);
  }
  return kept;
}

/**
 * The compared fields of entry `index` whose stored leaf hash is `leafHash`: kept under both, or read
 * from its bytes (`read`, else one storage read) after re-hashing them to that leaf hash.
 * @throws Error when the bytes do not hash to the stored leaf hash or are not an entry
 */
function entryFacts(
  ledger: LedgerReader,
  index: number,
  leafHash: Uint8Array,
  read?: ReadonlyMap<number, Uint8Array>,
): EntryFacts {
  const kept = keptOf(ledger);
  const known = kept.get(index);
  if (known !== undefined && bytesEqual(known.leafHash, leafHash)) return known.facts;
  const bytes = read?.get(index) ?? ledger.entry(index);
  if (!bytesEqual(nodeHasher.hashLeaf(bytes), leafHash)) throw new Error("leaf hash");
  // Only the compared fields: the full schema check (decodeEntry) per entry made a list of 50
  // transfers three times slower; the single-transfer path verifies everything.
  const facts = factsOf(bytes);
  if (known === undefined && kept.size >= KEPT_ENTRIES) {
    const oldest = kept.keys().next();
    if (oldest.done !== true) kept.delete(oldest.value);
  }
  kept.set(index, { leafHash, facts });
  return facts;
}

type Keyed = { readonly index: number; readonly leafHash: Uint8Array }[] | null;

/**
 * Every row's indices and stored leaf hashes (null: an indexed entry is not stored), in a few storage
 * reads for the whole list where the port offers it, else one per row.
 */
function keyedOfRows(ledger: LedgerReader, rows: readonly TransferRow[]): Map<string, Keyed> {
  const keys = rows.map((row) => `transfer:${row.id}`);
  if (ledger.keyedLeafHashesOf !== undefined) return ledger.keyedLeafHashesOf(keys);
  const out = new Map<string, Keyed>();
  for (const key of keys) {
    try {
      out.set(
        key,
        ledger.keyedLeafHashes?.(key) ??
          ledger.findByKey(key).map((index) => ({ index, leafHash: ledger.leafHash(index) })),
      );
    } catch {
      out.set(key, null);
    }
  }
  return out;
}

/** The rows of a list that agree with their entries; the others raise one alarm. */
export async function rowsAgreeingWithLedger(
  ctx: ServiceContext,
  rows: readonly TransferRow[],
): Promise<TransferRow[]> {
  const ledger = ctx.ledger;
  const agreeing: TransferRow[] = [];
  const refused: string[] = [];
  // One read for the indices + leaf hashes of the whole list, one for the bytes of entries not kept.
  const keyedByKey = keyedOfRows(ledger, rows);
  const kept = keptOf(ledger);
  const unkept: number[] = [];
  for (const keyed of keyedByKey.values()) {
    for (const k of keyed ?? []) {
      const known = kept.get(k.index);
      if (known === undefined || !bytesEqual(known.leafHash, k.leafHash)) unkept.push(k.index);
    }
  }
  const read = unkept.length > 0 ? ledger.entriesAt?.(unkept) : undefined;
  for (const row of rows) {
    let why: string | undefined;
    try {
      const keyed = keyedByKey.get(`transfer:${row.id}`);
      if (keyed === null || keyed === undefined) throw new Error("entry not stored");
      const records = keyed.map(({ index, leafHash }) => entryFacts(ledger, index, leafHash, read));
      why = disagreement(row, records);
    } catch {
      why = "entries unreadable";
    }
    if (why === undefined) agreeing.push(row);
    else refused.push(`${row.id}: ${why}`);
  }
  if (refused.length > 0) {
    await raiseIntegrityAlarm(ctx, {
      code: "INTEGRITY_FAILURE",
      description: `transfers left out of a list: ${refused.slice(0, 5).join("; ")}`,
      message: "",
    }).catch(() => undefined);
  }
  return agreeing;
}
