/**
 * The agents of an entry's AuditEvent (IHE BALP): the user (login ID, certificate, network address),
 * the responsible institution, the signing device, and the node as the other end of a data movement or
 * the custodian of a disclosure or deletion.
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import type { AuditCodes } from "./audit-codes.js";
import { APPLICATION, concept, DESTINATION_ROLE, ident, SOURCE_ROLE } from "./audit-codings.js";
import type { AuditEventAgent } from "./audit-event.js";
import {
  EXTRA_SECURITY_ROLE,
  PARTICIPATION_TYPE,
  PROVENANCE_PARTICIPANT,
  SNOMED,
  SYSTEM,
} from "./systems.js";

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

/** The agents of an entry's AuditEvent, the user first. */
export function agentsOf(record: OperationRecord, codes: AuditCodes): AuditEventAgent[] {
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
