/**
 * The Provenance of a sent standard file, built from its ledger entries: the conversion (what it was
 * derived from), the send (who sent it, with the sender's device signature) and the seal (the node's
 * detached JWS over the file and the RFC 3161 token over that JWS).
 * http://hl7.org/fhir/R4/provenance.html, signatures: http://hl7.org/fhir/R4/datatypes.html#Signature
 */
import { canonicalJson } from "../ledger/entry/canonical-json.js";
import {
  actorSchema,
  type DeviceSignatureRecord,
  type OperationRecord,
} from "../ledger/entry/operation-record.js";
import type { LedgerEntryRef } from "./audit-event.js";
import { tableNarrative } from "./narrative.js";
import type { CodeableConcept, Coding, EmittedResource, Reference } from "./resource-types.js";
import { labels } from "./security-labels.js";
import { DATA_OPERATION, PROVENANCE_PARTICIPANT, SIGNATURE_TYPE, SYSTEM } from "./systems.js";

type Entry<T extends OperationRecord["type"]> = LedgerEntryRef & {
  readonly record: Extract<OperationRecord, { type: T }>;
};

export interface ProvenanceInput {
  readonly seal: Entry<"seal">;
  readonly send: Entry<"send">;
  readonly conversion?: Entry<"conversion">;
}

export interface Signature {
  readonly type: readonly Coding[];
  readonly when: string;
  readonly who: Reference;
  readonly onBehalfOf?: Reference;
  readonly targetFormat?: string;
  readonly sigFormat?: string;
  readonly data?: string;
}

export interface Provenance extends EmittedResource {
  readonly resourceType: "Provenance";
  readonly id: string;
  readonly target: readonly Reference[];
  readonly occurredDateTime: string;
  readonly recorded: string;
  readonly activity: CodeableConcept;
  readonly agent: readonly {
    readonly type: CodeableConcept;
    readonly who: Reference;
    readonly onBehalfOf?: Reference;
  }[];
  readonly entity?: readonly { readonly role: "derivation" | "source"; readonly what: Reference }[];
  readonly signature: readonly Signature[];
}

const sigType = (code: string, display: string): Coding => ({ system: SIGNATURE_TYPE, code, display });
const participant = (code: string, display: string): CodeableConcept => ({
  coding: [{ system: PROVENANCE_PARTICIPANT, code, display }],
});
const ident = (system: string, value: string, type?: string): Reference => ({
  identifier: { system, value },
  ...(type !== undefined ? { type } : {}),
});

/**
 * Media type of our device signatures: `data` is the send entry's `actor.device` as RFC 8785 JSON — the
 * device ID, its public key (x, y of the P-256 JWK; proven by the ID, its RFC 7638 thumbprint), the
 * kenshin-device-signature/v1 signature and the fields it covered (method, path, body SHA-256, ts,
 * nonce), so the signature can be re-checked from the Provenance alone (client/device-signature-check.ts).
 * A send entry written before issue 12 holds no covered fields: its `data` is that JSON too, without
 * them, and the signature is not re-checkable.
 */
export const DEVICE_SIGNATURE_FORMAT = "application/vnd.kenshin.device-signature+json";

/** The device signature's `data` as the Provenance carries it (see DEVICE_SIGNATURE_FORMAT). */
export function deviceSignatureData(device: DeviceSignatureRecord): string {
  return Buffer.from(canonicalJson(device) ?? "{}", "utf8").toString("base64");
}

/** Reads a device signature's `data` back; undefined when it is not one. */
export function readDeviceSignatureData(data: unknown): DeviceSignatureRecord | undefined {
  if (typeof data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length > 16 * 1024) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data, "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  const device = actorSchema.shape.device.safeParse(parsed);
  return device.success ? device.data : undefined;
}

/** The Provenance of one sealed file. Its id is the seal entry's leaf hash. */
export function provenanceOf(input: ProvenanceInput): Provenance {
  const { seal, send, conversion } = input;
  const file = seal.record.file;
  const sender = send.record;
  const institution = ident(SYSTEM.institution, sender.institution, "Organization");
  const node = ident(SYSTEM.node, seal.record.source.observer, "Device");
  const signatures: Signature[] = [
    {
      // The node's organisation seal over the file's exact bytes (detached JWS, RFC 7515 + RFC 7797).
      type: [sigType("1.2.840.10065.1.12.1.14", "Source Signature")],
      when: seal.record.time,
      who: node,
      onBehalfOf: institution,
      targetFormat: "text/csv",
      sigFormat: "application/jose",
      data: Buffer.from(seal.record.jws, "ascii").toString("base64"),
    },
    ...(sender.actor.device !== undefined
      ? [
          {
            // The sender's device signature over the 送信確定 request, as the send entry holds it.
            type: [sigType("1.2.840.10065.1.12.1.1", "Author's Signature")],
            when:
              sender.actor.device.request !== undefined
                ? new Date(sender.actor.device.request.ts).toISOString()
                : sender.time,
            who: ident(SYSTEM.deviceKey, sender.actor.device.keyId, "Device"),
            onBehalfOf: institution,
            targetFormat: "text/plain",
            sigFormat: DEVICE_SIGNATURE_FORMAT,
            data: deviceSignatureData(sender.actor.device),
          },
        ]
      : []),
    {
      // RFC 3161 time-stamp response over the JWS above.
      type: [sigType("1.2.840.10065.1.12.1.18", "Timestamp Signature")],
      when: seal.record.timestamp.time,
      who: { display: seal.record.timestamp.tsa, type: "Device" },
      targetFormat: "application/jose",
      sigFormat: "application/timestamp-reply",
      data: seal.record.timestamp.token,
    },
  ];
  return {
    resourceType: "Provenance",
    id: seal.leafHash,
    meta: { lastUpdated: seal.record.time, security: labels("N", ["NOREUSE"]) },
    text: tableNarrative("送信ファイルの来歴と電子署名", [
      ["ファイル (SHA-256)", file.sha256],
      ["転送", seal.record.transfer],
      ["送信者", `${sender.actor.id} (${sender.institution})`],
      ["送信確定", sender.time],
      ["署名", seal.record.time],
      ["タイムスタンプ", `${seal.record.timestamp.time} ${seal.record.timestamp.tsa}`],
      ["台帳", `#${send.index} / #${seal.index}`],
    ]),
    target: [
      { ...ident(SYSTEM.fileSha256, file.sha256), display: "standard checkup-result file" },
      ident(SYSTEM.transfer, seal.record.transfer),
    ],
    occurredDateTime: conversion?.record.time ?? sender.time,
    recorded: seal.record.time,
    activity: { coding: [{ system: DATA_OPERATION, code: "CREATE", display: "create" }] },
    agent: [
      { type: participant("author", "Author"), who: institution },
      {
        type: participant("enterer", "Enterer"),
        who: ident(SYSTEM.loginId, sender.actor.id),
        onBehalfOf: institution,
      },
      { type: participant("assembler", "Assembler"), who: node, onBehalfOf: institution },
    ],
    ...(conversion !== undefined
      ? {
          entity: [
            { role: "derivation" as const, what: ident(SYSTEM.fileSha256, conversion.record.input.sha256) },
          ],
        }
      : {}),
    signature: signatures,
  };
}
