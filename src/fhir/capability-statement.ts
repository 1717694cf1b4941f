/**
 * The CapabilityStatement served at `/fhir/metadata`, with its security section: mutual TLS with client
 * certificates from the service CA plus a server-side session (JP Core: Communications, Authentication,
 * Authorization), audit logging, signatures and labels as this service implements them.
 * http://hl7.org/fhir/R4/capabilitystatement.html
 */
import { tableNarrative } from "./narrative.js";
import type { EmittedResource } from "./resource-types.js";
import { labels } from "./security-labels.js";

export interface CapabilityOptions {
  /** The FHIR base URL (no trailing slash). */
  readonly base: string;
  /** When this statement was made (the node's start). */
  readonly date: string;
  readonly softwareVersion: string;
}

export const AUDIT_EVENT_SEARCH_PARAMS = [
  ["date", "date", "recorded: eq, ge, gt, le, lt (YYYY-MM-DD or an instant)"],
  ["agent", "reference", "the login ID (or institution ID) of an agent"],
  ["entity", "reference", "a transfer ID, a file's SHA-256 or a ledger index"],
  ["type", "token", "[system|]code of AuditEvent.type"],
  ["subtype", "token", "[system|]code of AuditEvent.subtype"],
  ["outcome", "token", "0, 4, 8 or 12"],
] as const;

const SECURITY_DESCRIPTION =
  "TLS 1.3 only; every connection presents a client certificate issued by this service's CA (mutual TLS), " +
  "and every request carries a server-side session (login ID + password, device-bound) in a __Host- cookie. " +
  "A party sees the AuditEvents of its own transfers and logins; the office sees events, which never hold " +
  "result data; anyone else gets an empty Bundle or 404. Every read of audit data is itself audited. " +
  "Resources carry exactly one v3-Confidentiality label; Provenance signatures are detached JWS (ES256, " +
  "RFC 7797 unencoded payload) with an RFC 3161 time-stamp token.";

export function capabilityStatement(o: CapabilityOptions): EmittedResource & Record<string, unknown> {
  return {
    resourceType: "CapabilityStatement",
    meta: { security: labels("U") },
    text: tableNarrative("kenshin-exchange FHIR R4 endpoint", [
      ["base", o.base],
      ["resources", "AuditEvent (read, search-type), Provenance (search-type)"],
      ["security", "mutual TLS + session"],
    ]),
    status: "active",
    date: o.date,
    publisher: "kenshin-exchange",
    kind: "instance",
    software: { name: "kenshin-exchange", version: o.softwareVersion },
    implementation: { description: "kenshin-exchange audit and provenance endpoint", url: o.base },
    fhirVersion: "4.0.1",
    format: ["application/fhir+json"],
    rest: [
      {
        mode: "server",
        security: {
          cors: false,
          service: [
            {
              coding: [
                {
                  system: "http://terminology.hl7.org/CodeSystem/restful-security-service",
                  code: "Certificates",
                  display: "Certificates",
                },
              ],
              text: "mutual TLS (client certificates from the service CA) + session",
            },
          ],
          description: SECURITY_DESCRIPTION,
        },
        resource: [
          {
            type: "AuditEvent",
            interaction: [{ code: "read" }, { code: "search-type" }],
            searchParam: [
              ...AUDIT_EVENT_SEARCH_PARAMS.map(([name, type, documentation]) => ({
                name,
                type,
                documentation,
              })),
              { name: "_count", type: "number", documentation: "page size, 1–100 (default 20)" },
            ],
          },
          {
            type: "Provenance",
            interaction: [{ code: "search-type" }],
            searchParam: [
              { name: "target", type: "reference", documentation: "Binary/<SHA-256> or a transfer ID" },
            ],
          },
        ],
      },
    ],
  };
}
