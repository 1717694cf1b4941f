/**
 * One ledger entry as a FHIR R4 AuditEvent, following IHE BALP (codes in `audit-codes.ts`). Built from
 * the entry alone — its index, leaf hash and the log's origin make it provable against a signed
 * checkpoint: the `ledger-entry` entity carries them, and the AuditEvent's id is the leaf hash.
 * http://hl7.org/fhir/R4/auditevent.html
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { auditCodesOf, OUTCOME_CODE, type AuditCodes } from "./audit-codes.js";
import { tableNarrative } from "./narrative.js";
import type { CodeableConcept, Coding, EmittedResource, Reference } from "./resource-types.js";
import { labels } from "./security-labels.js";
import {
  AUDIT_ENTITY_TYPE,
  AUDIT_LIFECYCLE,
  BALP_ENTITY_TYPE,
  DCM,
  EXTRA_SECURITY_ROLE,
  OBJECT_ROLE,
  PARTICIPATION_TYPE,
  PROVENANCE_PARTICIPANT,
  SECURITY_SOURCE_TYPE,
  SNOMED,
  SYSTEM,
} from "./systems.js";

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

const concept = (coding: Coding): CodeableConcept => ({ coding: [coding] });
const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });
const SOURCE_ROLE = dcm("110153", "Source Role ID");
const DESTINATION_ROLE = dcm("110152", "Destination Role ID");
const APPLICATION = dcm("110150", "Application");
const entityType = (code: "1" | "2" | "3", display: string): Coding => ({
  system: AUDIT_ENTITY_TYPE,
  code,
  display,
});
const SYSTEM_OBJECT = entityType("2", "System Object");
const objectRole = (code: string, display: string): Coding => ({ system: OBJECT_ROLE, code, display });
const lifecycle = (code: string, display: string): Coding => ({ system: AUDIT_LIFECYCLE, code, display });
const ident = (system: string, value: string): Reference => ({ identifier: { system, value } });
const detail = (type: string, value: string | number) => ({ type, valueString: String(value) });

/** The confidentiality of an entry's AuditEvent: R for a security event, N otherwise. */
export function confidentialityOfRecord(record: OperationRecord): "N" | "R" {
  return isSecurityEvent(record) ? "R" : "N";
}

/** Outcomes that are security events (labelled R, see security-labels.ts). */
function isSecurityEvent(record: OperationRecord): boolean {
  return (
    record.outcome !== "success" ||
    record.type === "denial" ||
    record.type === "repair" ||
    record.type === "alert"
  );
}

function userAgent(record: OperationRecord, codes: AuditCodes): AuditEventAgent {
  const a = record.actor;
  const human = a.role !== "system";
  const roleCode =
    codes.direction === "user-to-node"
      ? SOURCE_ROLE
      : codes.direction === "node-to-user"
        ? DESTINATION_ROLE
        : undefined;
  // On a time-out logout the node ends the session: the node, not the user, is the requestor.
  const timedOut = record.type === "logout" && record.reason === "timeout";
  return {
    type: concept(
      human
        ? { system: EXTRA_SECURITY_ROLE, code: "humanuser", display: "human user" }
        : (roleCode ?? APPLICATION),
    ),
    ...(roleCode !== undefined && human ? { role: [concept(roleCode)] } : {}),
    who: { ...ident(SYSTEM.loginId, a.id), ...(a.name !== undefined ? { display: a.name } : {}) },
    ...(a.certificate !== undefined ? { altId: `${SYSTEM.certificate}:${a.certificate}` } : {}),
    ...(a.name !== undefined ? { name: a.name } : {}),
    requestor: !timedOut,
    ...(a.network !== undefined
      ? {
          network: {
            address: a.network.address,
            type: ({ name: "1", ip: "2", uri: "5" } as const)[a.network.type],
          },
        }
      : {}),
  };
}

function agentsOf(record: OperationRecord, codes: AuditCodes): AuditEventAgent[] {
  const agents: AuditEventAgent[] = [userAgent(record, codes)];
  if (record.institution !== "-") {
    agents.push({
      type: concept({ system: PARTICIPATION_TYPE, code: "RESP", display: "responsible party" }),
      who: ident(SYSTEM.institution, record.institution),
      requestor: false,
    });
  }
  if (record.actor.device !== undefined) {
    agents.push({
      type: concept(APPLICATION),
      who: ident(SYSTEM.deviceKey, record.actor.device.keyId),
      requestor: false,
    });
  }
  // The node: the other end of a data movement, the custodian of a disclosure or deletion.
  const nodeRole =
    codes.direction === "user-to-node"
      ? DESTINATION_ROLE
      : codes.direction === "node-to-user"
        ? SOURCE_ROLE
        : record.type === "deletion"
          ? { system: PROVENANCE_PARTICIPANT, code: "custodian", display: "Custodian" }
          : APPLICATION;
  agents.push({
    type: concept(nodeRole),
    ...(record.type === "download" || record.type === "send" || record.type === "receipt"
      ? { role: [concept({ system: SNOMED, code: "159541003", display: "Custodian" })] }
      : {}),
    who: ident(SYSTEM.node, record.source.observer),
    requestor: record.type === "logout" && record.reason === "timeout",
  });
  return agents;
}

const TRANSFER_LIFECYCLE: Partial<Record<OperationRecord["type"], Coding>> = {
  upload: lifecycle("2", "Import / Copy"),
  conversion: lifecycle("5", "Translation"),
  send: lifecycle("11", "Disclosure"),
  download: lifecycle("11", "Disclosure"),
  receipt: lifecycle("2", "Import / Copy"),
  deletion: lifecycle("14", "Logical deletion"),
};

function transferEntity(id: string, type: OperationRecord["type"]): AuditEventEntity {
  const lc = TRANSFER_LIFECYCLE[type];
  return {
    what: ident(SYSTEM.transfer, id),
    type: SYSTEM_OBJECT,
    role: objectRole("3", "Report"),
    ...(lc !== undefined ? { lifecycle: lc } : {}),
    name: "transfer",
  };
}

function fileEntity(
  file: { sha256: string; bytes?: number | undefined },
  name: string,
  lc?: Coding,
  extra: readonly { type: string; valueString: string }[] = [],
): AuditEventEntity {
  return {
    what: ident(SYSTEM.fileSha256, file.sha256),
    type: SYSTEM_OBJECT,
    role: objectRole("4", "Domain Resource"),
    ...(lc !== undefined ? { lifecycle: lc } : {}),
    name,
    ...(file.bytes !== undefined || extra.length > 0
      ? { detail: [...(file.bytes !== undefined ? [detail("bytes", file.bytes)] : []), ...extra] }
      : {}),
  };
}

const ADMIN_TARGET: Readonly<Record<string, readonly [string, Coding]>> = {
  institution: [SYSTEM.institution, objectRole("12", "Security User Group")],
  account: [SYSTEM.account, objectRole("11", "Security User Entity")],
  certificate: [SYSTEM.certificate, objectRole("13", "Security Resource")],
  device: [SYSTEM.deviceKey, objectRole("13", "Security Resource")],
  key: [SYSTEM.key, objectRole("13", "Security Resource")],
  mapping: [SYSTEM.mapping, objectRole("4", "Domain Resource")],
  backup: [SYSTEM.backup, objectRole("4", "Domain Resource")],
};

function recordEntities(record: OperationRecord): AuditEventEntity[] {
  switch (record.type) {
    case "upload":
      return [
        transferEntity(record.transfer, "upload"),
        fileEntity(record.file, "original export", lifecycle("2", "Import / Copy")),
      ];
    case "conversion":
      return [
        transferEntity(record.transfer, "conversion"),
        fileEntity(record.input, "original export", lifecycle("5", "Translation")),
        fileEntity(record.output, "standard file", lifecycle("1", "Origination / Creation"), [
          detail("records", record.records.count),
          detail("recordsRoot", record.records.root),
          detail("rejected", record.rejected),
          ...(record.mapping !== undefined
            ? [detail("mapping", `${record.mapping.id}@${record.mapping.version}`)]
            : []),
        ]),
      ];
    case "send":
      return [
        transferEntity(record.transfer, "send"),
        fileEntity(record.file, "standard file", lifecycle("11", "Disclosure"), [
          detail("receiver", record.receiver),
        ]),
      ];
    case "download":
      return [
        transferEntity(record.transfer, "download"),
        fileEntity(record.file, "standard file", lifecycle("10", "Export"), [
          detail("format", record.format),
        ]),
      ];
    case "receipt":
      return [
        transferEntity(record.transfer, "receipt"),
        fileEntity(record.file, "standard file", lifecycle("2", "Import / Copy")),
      ];
    case "deletion":
      return [
        {
          ...transferEntity(record.transfer, "deletion"),
          // Payload and data key erased = physical deletion (crypto-shredding + secure delete).
          lifecycle: lifecycle("15", "Permanent erasure / Physical destruction"),
          detail: [detail("reason", record.reason), detail("erased", record.erased.join(","))],
        },
      ];
    case "admin": {
      const [system, role] = ADMIN_TARGET[record.target.kind] ?? [
        SYSTEM.account,
        objectRole("4", "Domain Resource"),
      ];
      return [
        {
          what: ident(system, record.target.id),
          type: SYSTEM_OBJECT,
          role,
          name: record.target.kind,
          detail: [detail("action", record.action)],
        },
      ];
    }
    case "audit-query":
      // BALP Query: the query itself, base64 (never parsed back), with a readable description.
      return [
        {
          type: SYSTEM_OBJECT,
          role: objectRole("24", "Query"),
          query: Buffer.from(record.query, "utf8").toString("base64"),
          description: record.query,
        },
      ];
    case "denial":
      return [
        ...(record.transfer !== undefined ? [transferEntity(record.transfer, "denial")] : []),
        {
          type: SYSTEM_OBJECT,
          role: objectRole("4", "Domain Resource"),
          name: "refusal",
          detail: [detail("action", record.action), detail("code", record.code)],
        },
      ];
    case "repair":
      return [
        {
          what: ident(SYSTEM.node, record.node),
          type: SYSTEM_OBJECT,
          role: objectRole("17", "Data Repository"),
          name: "ledger range",
          detail: [
            detail("from", record.range.from),
            detail("to", record.range.to),
            detail("sourceNode", record.sourceNode),
          ],
        },
      ];
    case "login":
      return [
        {
          type: SYSTEM_OBJECT,
          role: objectRole("11", "Security User Entity"),
          name: "login",
          detail: [detail("method", record.method)],
        },
      ];
    case "logout":
      return [
        {
          type: SYSTEM_OBJECT,
          role: objectRole("11", "Security User Entity"),
          name: "logout",
          detail: [detail("reason", record.reason)],
        },
      ];
    case "seal":
      return [
        transferEntity(record.transfer, "seal"),
        fileEntity(record.file, "standard file", lifecycle("4", "Verification"), [
          detail("timestamp", record.timestamp.time),
          detail("tsa", record.timestamp.tsa),
        ]),
      ];
    case "alert":
      return [
        {
          ...(record.subject !== undefined ? { what: ident(SYSTEM.alert, record.subject) } : {}),
          type: SYSTEM_OBJECT,
          role: objectRole("4", "Domain Resource"),
          name: "monitoring alert",
          detail: [
            detail("kind", record.kind),
            detail("count", record.count),
            detail("threshold", record.threshold),
            detail("windowMinutes", record.windowMinutes),
          ],
        },
      ];
    case "note":
      return [];
  }
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
