/**
 * The operation records the ledger stores, version 1: a discriminated union on `type`. Every record carries
 * what an audit message needs without looking anything else up — time, actor (with network address,
 * client-certificate fingerprint and device signature), the actor's institution, the observing node, the
 * outcome — so a FHIR AuditEvent (IHE BALP) and an RFC 3881 / DICOM audit message can be produced from the
 * entry alone (see `audit-codes.ts`). `prev` is the previous entry's leaf hash, which makes the log also a
 * plain hash chain. Only hashes and identifiers go in: never personal data or file contents.
 */
import * as z from "zod";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "SHA-256 (小文字16進64桁)");
const id = z.string().min(1).max(200);
/** RFC 3339 UTC time with milliseconds, as Date.prototype.toISOString writes it. */
const time = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, "UTC 時刻 (ISO 8601)");
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Who acted (RFC 3881 ActiveParticipant / AuditEvent.agent). */
export const actorSchema = z
  .object({
    id,
    role: z.enum(["sender", "receiver", "admin", "system"]),
    name: z.string().max(200).optional(),
    /** AuditEvent.agent.network: type 1 machine name, 2 IP address, 5 URI. */
    network: z
      .object({ address: z.string().min(1).max(200), type: z.enum(["name", "ip", "uri"]) })
      .strict()
      .optional(),
    /** SHA-256 of the client certificate (DER) that carried the request. */
    certificate: sha256Hex.optional(),
    /**
     * The browser device key that signed the operation, and its signature (base64url). Since issue 12
     * also what the signature covered (`request`: the canonical string's fields, client/request-signing.ts)
     * and the public key (`key`: x and y of the P-256 JWK, whose RFC 7638 thumbprint is `keyId`), so
     * anyone holding the entry can re-check it (client/device-signature-check.ts). Both optional: entries
     * written before carry neither and stay valid (shown as not re-checkable).
     */
    device: z
      .object({
        keyId: id,
        signature: z.string().min(1).max(400),
        request: z
          .object({
            method: z.string().regex(/^[A-Z][A-Z0-9_-]{0,31}$/, "HTTP メソッド"),
            /** The request target exactly as received (origin-form, visible ASCII). */
            path: z
              .string()
              .min(1)
              .max(8192)
              .regex(/^\/[\x21-\x7e]*$/, "要求パス"),
            bodySha256: sha256Hex,
            /** The signing time, milliseconds since the epoch. */
            ts: count,
            nonce: z.string().regex(/^[A-Za-z0-9_-]{22}$/, "nonce (base64url 16 バイト)"),
          })
          .strict()
          .optional(),
        key: z
          .object({
            x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "P-256 x (base64url)"),
            y: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "P-256 y (base64url)"),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const fileRef = z.object({ sha256: sha256Hex, bytes: count.optional() }).strict();

const common = {
  v: z.literal(1),
  time,
  actor: actorSchema,
  /** The actor's institution ID ("-" for the service itself). */
  institution: id,
  outcome: z.enum(["success", "minor-failure", "serious-failure", "major-failure"]),
  outcomeDesc: z.string().max(500).optional(),
  /** Correlates the entries of one request (BALP XrequestId entity). */
  requestId: id.optional(),
  /** The node that observed and recorded the operation (AuditEvent.source.observer). */
  source: z.object({ observer: id, site: id.optional() }).strict(),
  /** Leaf hash of the previous entry; 64 zeros for the first entry. */
  prev: sha256Hex,
};

const transfer = { transfer: id };

/** Schema of every version-1 operation record. */
export const operationRecordSchema = z.discriminatedUnion("type", [
  z.object({ ...common, ...transfer, type: z.literal("upload"), receiver: id, file: fileRef }).strict(),
  z
    .object({
      ...common,
      ...transfer,
      type: z.literal("conversion"),
      input: fileRef,
      output: fileRef,
      /** Commitment to the records: their count and the RFC 6962 root over their SHA-256 hashes. */
      records: z.object({ count, root: sha256Hex }).strict(),
      rejected: count,
      mapping: z.object({ id, version: id }).strict().optional(),
    })
    .strict(),
  z.object({ ...common, ...transfer, type: z.literal("send"), receiver: id, file: fileRef }).strict(),
  z
    .object({
      ...common,
      ...transfer,
      type: z.literal("download"),
      file: fileRef,
      format: z.enum(["csv", "csv-code-header", "fhir-bundle"]),
    })
    .strict(),
  z.object({ ...common, ...transfer, type: z.literal("receipt"), file: fileRef }).strict(),
  z
    .object({
      ...common,
      ...transfer,
      type: z.literal("deletion"),
      reason: z.enum(["received", "expired", "cancelled", "request"]),
      erased: z.array(z.enum(["payload", "data-key"])).min(1),
    })
    .strict(),
  z
    .object({ ...common, type: z.literal("login"), method: z.enum(["password", "certificate", "device"]) })
    .strict(),
  z.object({ ...common, type: z.literal("logout"), reason: z.enum(["user", "timeout"]) }).strict(),
  z
    .object({
      ...common,
      type: z.literal("admin"),
      action: z.enum([
        "institution.create",
        "institution.update",
        "account.create",
        "account.disable",
        "account.enable",
        "account.unlock",
        "password.reset",
        "password.change",
        "role.change",
        "certificate.issue",
        "certificate.revoke",
        "mapping.update",
        "device.register",
        "device.update",
        "device.remove",
        "key.rotate",
        "backup.create",
        "backup.restore",
      ]),
      target: z
        .object({
          kind: z.enum(["institution", "account", "certificate", "mapping", "device", "key", "backup"]),
          id,
        })
        .strict(),
    })
    .strict(),
  z.object({ ...common, type: z.literal("audit-query"), query: z.string().min(1).max(1000) }).strict(),
  /** A refused or failed request (BALP: the attempt is audited even when nothing happened). */
  z
    .object({
      ...common,
      type: z.literal("denial"),
      action: z.enum([
        "upload",
        "send",
        "discard",
        "download",
        "receipt",
        "trail",
        "lookup",
        "integrity",
        // A refused read of one transfer, and a request refused before its handler (CSRF, device signature).
        "read",
        "request",
      ]),
      /** The error code the requester got. */
      code: z.string().regex(/^[A-Z][A-Z0-9_]{2,63}$/),
      transfer: id.optional(),
    })
    .strict(),
  /**
   * A node repaired damage in its own copy (issue 11): which node, the entry range replaced
   * ([from, to), empty when no entry was), the node the good copy came from, and — optional, added
   * later, so older repair entries stay valid — what was repaired, the published checkpoint the
   * entries were proven against, the transfers whose rows and the chunks (content addresses) replaced,
   * and the chunks no copy could repair (their transfers are marked damaged and never served).
   */
  z
    .object({
      ...common,
      type: z.literal("repair"),
      node: id,
      range: z.object({ from: count, to: count }).strict(),
      sourceNode: id,
      what: z
        .array(
          z.enum([
            "entries",
            "tree",
            "checkpoints",
            "index-keys",
            "record-hashes",
            "transfer-rows",
            "chunks",
          ]),
        )
        .min(1)
        .max(7)
        .optional(),
      checkpoint: z.object({ size: count, root: sha256Hex }).strict().optional(),
      entries: count.optional(),
      transfers: z.array(id).max(100).optional(),
      chunks: z.array(sha256Hex).max(100).optional(),
      unrepaired: z.array(sha256Hex).max(100).optional(),
    })
    .strict(),
  z.object({ ...common, type: z.literal("note"), data: z.record(z.string(), z.json()) }).strict(),
  /**
   * The node's seal over a sent standard file (S1–S2): a detached JWS (RFC 7515 + RFC 7797, ES256) by
   * the organisation key over the file's exact bytes, and an RFC 3161 time-stamp response over the JWS.
   * With the send entry it makes the file's FHIR Provenance.
   */
  z
    .object({
      ...common,
      ...transfer,
      type: z.literal("seal"),
      file: fileRef,
      jws: z
        .string()
        .max(16 * 1024)
        .regex(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/, "detached compact JWS"),
      timestamp: z
        .object({
          /** DER TimeStampResp, base64. */
          token: z
            .string()
            .max(48 * 1024)
            .regex(/^[A-Za-z0-9+/]+={0,2}$/, "base64"),
          /** genTime of the token. */
          time,
          /** Who issued it: the built-in TSA's subject or the external TSA's URL. */
          tsa: z.string().min(1).max(500),
        })
        .strict(),
    })
    .strict(),
  /**
   * A monitoring alert (L6): more events of one kind in the window than the configured threshold; or
   * (`transfer-damaged`, issue 11) a transfer whose payload no copy could repair (count 1, threshold
   * and window 0, subject the transfer ID).
   */
  z
    .object({
      ...common,
      type: z.literal("alert"),
      kind: z.enum(["auth-failures", "downloads", "exports", "audit-reads", "transfer-damaged"]),
      count,
      threshold: count,
      windowMinutes: count,
      /** The login ID or institution the burst came from, when there is one; the damaged transfer's ID. */
      subject: id.optional(),
    })
    .strict(),
]);

/** A device signature as an entry records it (`actor.device`). */
export type DeviceSignatureRecord = NonNullable<z.infer<typeof actorSchema>["device"]>;

/** A version-1 operation record, as stored in a leaf. */
export type OperationRecord = z.infer<typeof operationRecordSchema>;

/** The record kinds. */
export type OperationType = OperationRecord["type"];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a caller appends: a record without `v` and `prev`, which the sequencer fills in. */
export type RecordInput = DistributiveOmit<OperationRecord, "v" | "prev">;

/** The `prev` of the first entry. */
export const GENESIS_PREV = "0".repeat(64);
