/**
 * The entities of an entry's AuditEvent (IHE BALP): the transfer, the files by SHA-256 with their
 * lifecycle, the administrative target, the query of an audit read, the refusal, the repaired range,
 * the alert. The ledger-entry and request-id entities are added by `auditEventOf`.
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { detail, ident, lifecycle, objectRole, SYSTEM_OBJECT } from "./audit-codings.js";
import type { AuditEventEntity } from "./audit-event.js";
import type { Coding } from "./resource-types.js";
import { SYSTEM } from "./systems.js";

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

/** The entities an entry's own content gives. */
export function recordEntities(record: OperationRecord): AuditEventEntity[] {
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
