/** Typed record fixtures for ledger tests (hashes only, no personal data). */
import { createHash } from "node:crypto";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import { recordsCommitment } from "../../src/ledger/entry/records-commitment.js";
import type { AppendRequest } from "../../src/ledger/sequencer.js";

export function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

const base = {
  time: "2025-04-01T09:00:00.000Z",
  actor: { id: "user-1", role: "sender" as const, network: { address: "192.0.2.1", type: "ip" as const } },
  institution: "1312345678",
  outcome: "success" as const,
  source: { observer: "node-a" },
};

export function noteRecord(n: number): RecordInput {
  return { ...base, type: "note", data: { n } };
}

export function uploadRecord(transfer: string, fileSha: string): RecordInput {
  return {
    ...base,
    type: "upload",
    transfer,
    receiver: "INS-RECV-1",
    file: { sha256: fileSha, bytes: 1234 },
  };
}

/** A conversion request committing to the given record hashes. */
export function conversionRequest(
  transfer: string,
  input: string,
  output: string,
  recordHashes: string[],
): AppendRequest {
  return {
    record: {
      ...base,
      type: "conversion",
      transfer,
      input: { sha256: input },
      output: { sha256: output, bytes: 99 },
      records: recordsCommitment(recordHashes),
      rejected: 0,
    },
    recordHashes,
  };
}
