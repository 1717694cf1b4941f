/**
 * One ledger entry as a FHIR R4 AuditEvent, following IHE BALP (codes in `audit-codes.ts`). Built from
 * the entry alone — its index, leaf hash and the log's origin make it provable against a signed
 * checkpoint: the `ledger-entry` entity carries them, and the AuditEvent's id is the leaf hash.
 * The parts live beside it: agents (`audit-agents.ts`), entities (`audit-entities.ts`), the coding
 * builders (`audit-codings.ts`) and the confidentiality rule (`audit-confidentiality.ts`).
 * http://hl7.org/fhir/R4/auditevent.html
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { agentsOf } from "./audit-agents.js";
import { auditCodesOf, OUTCOME_CODE, type AuditCodes } from "./audit-codes.js";
import { detail, ident, objectRole, SYSTEM_OBJECT } from "./audit-codings.js";
import { confidentialityOfRecord } from "./audit-confidentiality.js";
import { recordEntities } from "./audit-entities.js";
import { tableNarrative } from "./narrative.js";
import type { CodeableConcept, Coding, EmittedResource, Reference } from "./resource-types.js";
import { labels } from "./security-labels.js";
import { BALP_ENTITY_TYPE, SECURITY_SOURCE_TYPE, SYSTEM } from "./systems.js";

/** Kept here for the readers of the audit list (service/audit/audit-log.ts). */
export { confidentialityOfRecord } from "./audit-confidentiality.js";

/** A ledger entry with its position: what `auditEventOf` needs. */
export interface LedgerEntryRef {
  readonly index: number;
  /** Leaf hash, lower-case hex (RFC 9162 §2.1.1). */
  readonly leafHash: string;
  readonly record: OperationRecord;
  /** The log's origin line (C2SP tlog-checkpoint), naming the log the index refers to. */
  readonly origin: string;
}

export interface AuditEventAgent {
  readonly type?: CodeableConcept;
  readonly role?: readonly CodeableConcept[];
  readonly who: Reference;
  readonly altId?: string;
  readonly name?: string;
  readonly requestor: boolean;
  readonly network?: { readonly address: string; readonly type: "1" | "2" | "5" };
}

export interface AuditEventEntity {
  readonly what?: Reference;
  readonly type?: Coding;
  readonly role?: Coding;
  readonly lifecycle?: Coding;
  readonly name?: string;
  readonly description?: string;
  readonly query?: string;
  readonly detail?: readonly { readonly type: string; readonly valueString: string }[];
}

export interface AuditEvent extends EmittedResource {
  readonly resourceType: "AuditEvent";
  readonly id: string;
  readonly type: Coding;
  readonly subtype?: readonly Coding[];
  readonly action: AuditCodes["action"];
  readonly recorded: string;
  readonly outcome: "0" | "4" | "8" | "12";
  readonly outcomeDesc?: string;
  readonly agent: readonly AuditEventAgent[];
  readonly source: { readonly site?: string; readonly observer: Reference; readonly type: readonly Coding[] };
  readonly entity?: readonly AuditEventEntity[];
}
/** Japanese labels of the entry kinds, for the narrative. */
const KIND_JA: Readonly<Record<OperationRecord["type"], string>> = {
  upload: "アップロード",
  conversion: "変換",
  send: "送信確定",
  download: "ダウンロード",
  receipt: "受領確定",
  deletion: "削除",
  login: "ログイン",
  logout: "ログアウト",
  admin: "事務局操作",
  "audit-query": "監査記録の参照",
  denial: "拒否",
  repair: "台帳の修復",
  note: "記録",
  seal: "電子署名・タイムスタンプ",
  alert: "監視アラート",
};

/** The AuditEvent of one ledger entry. */
export function auditEventOf(ref: LedgerEntryRef): AuditEvent {
  const { record } = ref;
  const codes = auditCodesOf(record);
  const entities: AuditEventEntity[] = [
    ...recordEntities(record),
    {
      what: ident(SYSTEM.ledgerEntry, String(ref.index)),
      type: SYSTEM_OBJECT,
      role: objectRole("4", "Domain Resource"),
      name: "ledger entry",
      detail: [
        detail("origin", ref.origin),
        detail("index", ref.index),
        detail("leafHash", ref.leafHash),
        detail("prev", record.prev),
      ],
    },
    ...(record.requestId !== undefined
      ? [
          {
            what: ident(SYSTEM.requestId, record.requestId),
            type: { system: BALP_ENTITY_TYPE, code: "XrequestId", display: "X-Request-Id" },
          },
        ]
      : []),
  ];
  const outcome = OUTCOME_CODE[record.outcome];
  return {
    resourceType: "AuditEvent",
    id: ref.leafHash,
    meta: {
      lastUpdated: record.time,
      security: labels(confidentialityOfRecord(record), ["NOREUSE"]),
    },
    text: tableNarrative(`${KIND_JA[record.type]} (${record.type})`, [
      ["日時", record.time],
      ["利用者ID", record.actor.id],
      ["機関", record.institution],
      ["結果", `${outcome}${record.outcomeDesc !== undefined ? ` ${record.outcomeDesc}` : ""}`],
      ["台帳", `#${ref.index} ${ref.leafHash}`],
    ]),
    type: codes.type,
    ...(codes.subtype.length > 0 ? { subtype: codes.subtype } : {}),
    action: codes.action,
    recorded: record.time,
    outcome,
    ...(record.outcomeDesc !== undefined ? { outcomeDesc: record.outcomeDesc } : {}),
    agent: agentsOf(record, codes),
    source: {
      ...(record.source.site !== undefined ? { site: record.source.site } : {}),
      observer: ident(SYSTEM.node, record.source.observer),
      type: [{ system: SECURITY_SOURCE_TYPE, code: "4", display: "Application Server" }],
    },
    entity: entities,
  };
}
