/**
 * The ledger record the ledger and cluster benches append: one upload, its fields derived from `n`
 * alone, so every bench (and every run of it) writes the same bytes for the same `n` and their figures
 * stay comparable.
 */
import { createHash } from "node:crypto";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";

/** Upload record number `n`: transfer `T-<n>`, one of 97 senders, a file hash of `n`'s decimal digits. */
export function uploadRecord(n: number): RecordInput {
  return {
    type: "upload",
    time: "2025-04-01T09:00:00.000Z",
    actor: { id: `user-${n % 97}`, role: "sender", network: { address: "192.0.2.1", type: "ip" } },
    institution: "1312345678",
    outcome: "success",
    source: { observer: "node-a" },
    transfer: `T-${n}`,
    receiver: "INS-RECV-1",
    file: { sha256: createHash("sha256").update(String(n)).digest("hex"), bytes: 4096 },
  };
}
