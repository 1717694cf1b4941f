/**
 * Provenance of sent files: found by the file's SHA-256 or the transfer ID, built from the transfer's
 * conversion, send and seal entries, with the same visibility as the audit events; every search is an
 * `audit-query` entry.
 */
import type { LedgerEntryRef } from "../../fhir/audit-event.js";
import { provenanceOf, type Provenance } from "../../fhir/provenance.js";
import { permits, ROLE_CLEARANCE } from "../../fhir/security-labels.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { toHex } from "../../ledger/verify/encoding.js";
import { audit, recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { entryVisibility } from "../audit/entry-visibility.js";
import type { Session } from "../identity/sessions.js";

/** `target` as FHIR writes it: `Binary/<sha256>`, a bare SHA-256, `<system>|<value>`, or a transfer ID. */
function lookupKey(target: string): string | undefined {
  const value = target.includes("|")
    ? target.slice(target.indexOf("|") + 1)
    : target.replace(/^Binary\//, "");
  if (/^[0-9a-f]{64}$/.test(value)) return `sha256:${value}`;
  if (/^tr_[a-z2-7]{16}$/.test(value)) return `transfer:${value}`;
  return undefined;
}

function refAt(ctx: ServiceContext, index: number): LedgerEntryRef {
  const bytes = ctx.ledger.entry(index);
  return {
    index,
    leafHash: toHex(ctx.ledger.leafHash(index)),
    record: decodeEntry(bytes),
    origin: ctx.ledger.origin,
  };
}

/** The Provenances of the files `target` names that this session may see (newest first). */
export async function searchProvenance(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  target: string,
): Promise<Provenance[]> {
  const key = lookupKey(target);
  const visible = entryVisibility(ctx, session);
  const out: Provenance[] = [];
  for (const index of key === undefined ? [] : ctx.ledger.findByKey(key).slice(-100)) {
    const seal = refAt(ctx, index);
    if (seal.record.type !== "seal" || !visible(seal.record)) continue;
    const sealRecord = seal.record;
    const related = ctx.ledger
      .findByKey(`transfer:${sealRecord.transfer}`)
      .filter((i) => i < index)
      .map((i) => refAt(ctx, i));
    const send = related.filter((r) => r.record.type === "send").at(-1);
    const conversion = related.filter((r) => r.record.type === "conversion").at(-1);
    if (send?.record.type !== "send") continue;
    const provenance = provenanceOf({
      seal: { ...seal, record: sealRecord },
      send: { ...send, record: send.record },
      ...(conversion?.record.type === "conversion"
        ? { conversion: { ...conversion, record: conversion.record } }
        : {}),
    });
    // Z4: within the reader's clearance only (a Provenance of checkup results is N).
    if (permits(ROLE_CLEARANCE[session.role], provenance.meta.security)) out.push(provenance);
  }
  await audit(ctx, [
    {
      ...recordCommon(ctx, actor, "success"),
      type: "audit-query",
      query: `fhir Provenance?target=${target}`.slice(0, 1000),
    },
  ]);
  return out.reverse();
}
