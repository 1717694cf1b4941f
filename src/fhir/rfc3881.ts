/**
 * An AuditEvent as an RFC 3881 audit message — the XML form the JAHIS audit-trail message standard is
 * built on (JAHIS 06-002 → Ver.2.x, aligned with DICOM PS3.15 A.5). The mapping is the one FHIR R4 gives
 * (http://hl7.org/fhir/R4/auditevent-mappings.html, reference §5): type → EventID, subtype →
 * EventTypeCode, action → EventActionCode, recorded → EventDateTime, outcome → EventOutcomeIndicator;
 * agent → ActiveParticipant; source → AuditSourceIdentification; entity → ParticipantObjectIdentification.
 * Output validates against `schema/rfc3881.xsd` (RFC 3881 §7) — `schema/audit-messages.xsd` wraps
 * several messages in one export file.
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from "./audit-event.js";
import { escapeXhtml as esc } from "./narrative.js";
import type { Coding } from "./resource-types.js";
import { DCM } from "./systems.js";

/** RFC 3881 §5 names DICOM's code system "DCM"; other systems are named by their URI. */
const systemName = (system: string): string => (system === DCM ? "DCM" : system);

function coded(element: string, c: Coding | undefined): string {
  if (c === undefined) return "";
  return `<${element} code="${esc(c.code)}" codeSystemName="${esc(systemName(c.system))}"${
    c.display !== undefined ? ` displayName="${esc(c.display)}"` : ""
  }/>`;
}

const attr = (name: string, value: string | undefined): string =>
  value === undefined ? "" : ` ${name}="${esc(value)}"`;

/** RFC 3881 NetworkAccessPointTypeCode: 1 machine name, 2 IP address, 3 telephone (no URI code). */
const NETWORK_TYPE: Readonly<Record<string, string | undefined>> = { "1": "1", "2": "2", "5": undefined };

function participant(a: AuditEventAgent): string {
  const id = a.who.identifier;
  const network = a.network !== undefined ? NETWORK_TYPE[a.network.type] : undefined;
  const roles = [...(a.type?.coding ?? []), ...(a.role ?? []).flatMap((r) => r.coding ?? [])];
  return `<ActiveParticipant${attr("UserID", id?.value ?? a.who.display ?? "-")}${attr("AlternativeUserID", a.altId)}${attr(
    "UserName",
    a.name,
  )} UserIsRequestor="${a.requestor ? "true" : "false"}"${
    network !== undefined && a.network !== undefined
      ? `${attr("NetworkAccessPointID", a.network.address)} NetworkAccessPointTypeCode="${network}"`
      : ""
  }>${roles.map((r) => coded("RoleIDCode", r)).join("")}</ActiveParticipant>`;
}

/** RFC 3881 §5.5: ParticipantObjectTypeCode 1–4, TypeCodeRole 1–24, DataLifeCycle 1–15. */
function participantObject(e: AuditEventEntity): string {
  const id = e.what?.identifier;
  const typeCode = e.type !== undefined && /^[1-4]$/.test(e.type.code) ? e.type.code : undefined;
  const role = e.role?.code;
  const lifecycle = e.lifecycle?.code;
  // The ID type: the identifier system (or the entity type code for BALP's XrequestId).
  const idType: Coding = id
    ? { system: "urn:ietf:rfc:3986", code: id.system }
    : (e.type ?? { system: "urn:ietf:rfc:3986", code: "urn:kenshin-exchange:query" });
  const name =
    e.query === undefined && e.name !== undefined
      ? `<ParticipantObjectName>${esc(e.name)}</ParticipantObjectName>`
      : "";
  const query =
    e.query !== undefined ? `<ParticipantObjectQuery>${esc(e.query)}</ParticipantObjectQuery>` : "";
  const details = (e.detail ?? [])
    .map(
      (d) =>
        `<ParticipantObjectDetail type="${esc(d.type)}" value="${Buffer.from(d.valueString, "utf8").toString("base64")}"/>`,
    )
    .join("");
  return `<ParticipantObjectIdentification${attr("ParticipantObjectID", id?.value ?? e.description ?? e.name ?? "-")}${attr(
    "ParticipantObjectTypeCode",
    typeCode,
  )}${attr("ParticipantObjectTypeCodeRole", role)}${attr("ParticipantObjectDataLifeCycle", lifecycle)}>${coded(
    "ParticipantObjectIDTypeCode",
    idType,
  )}${name}${query}${details}</ParticipantObjectIdentification>`;
}

/** One `<AuditMessage>` element (no XML declaration). */
export function auditMessageXml(event: AuditEvent): string {
  const source = event.source;
  return [
    "<AuditMessage>",
    `<EventIdentification EventActionCode="${event.action}" EventDateTime="${esc(event.recorded)}" EventOutcomeIndicator="${event.outcome}">`,
    coded("EventID", event.type),
    ...(event.subtype ?? []).map((s) => coded("EventTypeCode", s)),
    "</EventIdentification>",
    ...event.agent.map(participant),
    `<AuditSourceIdentification${attr("AuditEnterpriseSiteID", source.site)}${attr(
      "AuditSourceID",
      source.observer.identifier?.value ?? source.observer.display ?? "-",
    )}>${source.type.map((t) => coded("AuditSourceTypeCode", t)).join("")}</AuditSourceIdentification>`,
    ...(event.entity ?? []).map(participantObject),
    "</AuditMessage>",
  ].join("");
}

/** The export file head and tail around the messages (see schema/audit-messages.xsd). */
export const AUDIT_MESSAGES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<AuditMessages>\n';
export const AUDIT_MESSAGES_TAIL = "</AuditMessages>\n";
