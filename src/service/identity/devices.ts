/**
 * Devices (browsers) bound to a login ID. A browser registers its ECDSA P-256 public key, proving it
 * holds the private key by signing the registration request itself. When the ID already has another
 * device, registration needs an explicit confirmation (the UI's "this ID is in use on another terminal"
 * dialog), and the registration is a ledger entry the account can see. Every other state-changing
 * request carries a device signature that is verified here, checked against replays (nonce table) and
 * put in the ledger entry of the operation.
 */
import { z } from "zod";
import { parseDevicePublicJwk } from "../../client/device-key.js";
import { canonicalMethod } from "../../client/request-signing.js";
import type { DeviceSignatureRecord } from "../../ledger/entry/operation-record.js";
import { cachedStatement } from "../../store/statement-cache.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { parseDeviceSignatureHeader, verifyDeviceSignature } from "./device-signature.js";
import { ServiceError } from "../errors.js";
import { deviceRegister } from "../state-commands/device-commands.js";

export interface Device {
  readonly id: string;
  readonly label: string;
  readonly createdAt: string;
  readonly ledgerIndex: number | null;
}

/** A request's signature material, as the server sees it. */
export interface SignedRequest {
  readonly header: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly bodySha256Hex: string;
  /**
   * When the request arrived (ms since the epoch), for a signature checked after a long streamed body:
   * its time stamp is checked against this instead of now. Default: now.
   */
  readonly receivedAt?: number | undefined;
}

const jwkSchema = z
  .object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string().min(40).max(50),
    y: z.string().min(40).max(50),
  })
  .loose();

export const registerDeviceSchema = z
  .object({
    publicKey: jwkSchema,
    label: z.string().trim().min(1).max(60).default("ブラウザ"),
    /** Set after the person confirmed using this ID on one more terminal. */
    confirmAdditional: z.boolean().default(false),
  })
  .strict();

/** How many devices the ID has registered (the session view's count; a kept statement per request). */
export function countDevices(ctx: ServiceContext, loginId: string): number {
  return (
    cachedStatement<[string], { n: number }>(
      ctx.db,
      "SELECT count(*) AS n FROM devices WHERE login_id = ?",
    ).get(loginId)?.n ?? 0
  );
}

export function listDevices(ctx: ServiceContext, loginId: string): Device[] {
  return ctx.db
    .prepare<[string], { id: string; label: string; created_at: string; ledger_index: number | null }>(
      "SELECT id, label, created_at, ledger_index FROM devices WHERE login_id = ? ORDER BY created_at",
    )
    .all(loginId)
    .map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, ledgerIndex: r.ledger_index }));
}

/** Registers the device whose key signed this very request. */
export async function registerDevice(
  ctx: ServiceContext,
  actor: Actor,
  body: unknown,
  request: SignedRequest,
): Promise<{ device: Device; alreadyRegistered: boolean }> {
  const parsed = registerDeviceSchema.safeParse(body);
  if (!parsed.success) throw new ServiceError("DEVICE_KEY_INVALID", "端末の公開鍵が正しくありません", {});
  let jwk: JsonWebKey;
  try {
    // Refuses anything but a public P-256 key (a JWK carrying a private part included).
    jwk = parseDevicePublicJwk(
      body !== null && typeof body === "object" ? (body as { publicKey?: unknown }).publicKey : undefined,
    );
  } catch {
    throw new ServiceError("DEVICE_KEY_INVALID", "端末の公開鍵が正しくありません", {});
  }
  const verified = await verifySignature(ctx, request, jwk);
  const existing = listDevices(ctx, actor.loginId);
  const same = existing.find((d) => d.id === verified.deviceId);
  if (same) return { device: same, alreadyRegistered: true };
  if (existing.length > 0 && !parsed.data.confirmAdditional) {
    throw new ServiceError(
      "DEVICE_CONFIRMATION_REQUIRED",
      "この利用者IDは既に別の端末で使われています。この端末も登録してよいか確認してください",
      { registeredDevices: existing.length },
    );
  }
  rememberNonce(ctx, verified.deviceId, verified.nonce, verified.ts);
  const createdAt = ctx.now().toISOString();
  // The device row (naming its entry) and the device.register entry: both or neither.
  const [entry] = await audit(
    ctx,
    [
      adminRecord(
        ctx,
        { ...actor, device: deviceRecord(verified, request, jwk) },
        "device.register",
        { kind: "device", id: verified.deviceId },
        "success",
        existing.length > 0 ? `additional device (${existing.length} already registered)` : undefined,
      ),
    ],
    {
      command: deviceRegister.of({
        id: verified.deviceId,
        loginId: actor.loginId,
        publicJwk: JSON.stringify(jwk),
        label: parsed.data.label,
        at: createdAt,
      }),
    },
  );
  return {
    device: { id: verified.deviceId, label: parsed.data.label, createdAt, ledgerIndex: entry?.index ?? null },
    alreadyRegistered: false,
  };
}

/**
 * Verifies the device signature of a state-changing request by one of the account's registered
 * devices. Returns what goes into the ledger entry.
 */
export async function verifyDeviceRequest(
  ctx: ServiceContext,
  loginId: string,
  request: SignedRequest,
): Promise<DeviceSignatureRecord> {
  if (request.header === undefined) {
    throw new ServiceError(
      "DEVICE_NOT_REGISTERED",
      "この端末は登録されていません。端末の登録をしてください",
      {},
    );
  }
  const parsed = parseDeviceSignatureHeader(request.header);
  if (!parsed.ok) throw new ServiceError("DEVICE_SIGNATURE_MALFORMED", parsed.message, {});
  const row = ctx.db
    .prepare<[string, string], { public_jwk: string }>(
      "SELECT public_jwk FROM devices WHERE id = ? AND login_id = ?",
    )
    .get(parsed.header.deviceId, loginId);
  if (!row) {
    throw new ServiceError(
      "DEVICE_NOT_REGISTERED",
      "この端末は登録されていません。端末の登録をしてください",
      {},
    );
  }
  const jwk = JSON.parse(row.public_jwk) as JsonWebKey;
  const verified = await verifySignature(ctx, request, jwk);
  rememberNonce(ctx, verified.deviceId, verified.nonce, verified.ts);
  return deviceRecord(verified, request, jwk);
}

/**
 * What the entry records of a verified device signature: the key, the signature, what it covered and
 * the public key, so that anyone holding the entry can re-check it (client/device-signature-check.ts).
 */
function deviceRecord(
  verified: { deviceId: string; nonce: string; ts: number; signature: string },
  request: SignedRequest,
  jwk: JsonWebKey,
): DeviceSignatureRecord {
  const method = canonicalMethod(request.method);
  const key = { x: jwk.x, y: jwk.y };
  // verifyDeviceSignature refused any request whose method or key could not be canonicalised.
  if (method === undefined || key.x === undefined || key.y === undefined) {
    throw new ServiceError("DEVICE_SIGNATURE_MALFORMED", "端末署名を記録できません", {});
  }
  return {
    keyId: verified.deviceId,
    signature: verified.signature,
    request: {
      method,
      path: request.path,
      bodySha256: request.bodySha256Hex,
      ts: verified.ts,
      nonce: verified.nonce,
    },
    key: { x: key.x, y: key.y },
  };
}

async function verifySignature(ctx: ServiceContext, request: SignedRequest, jwk: JsonWebKey) {
  if (request.header === undefined)
    throw new ServiceError("DEVICE_SIGNATURE_MALFORMED", "端末署名がありません", {});
  const result = await verifyDeviceSignature({
    header: request.header,
    method: request.method,
    path: request.path,
    bodySha256Hex: request.bodySha256Hex,
    publicJwk: jwk,
    now: request.receivedAt ?? ctx.now().getTime(),
    maxSkewMs: ctx.config.deviceMaxSkewSeconds * 1000,
  });
  if (!result.ok) throw new ServiceError(result.code, result.message, {});
  // Exactly the sig parameter as sent, wherever it stands in the header (the parser accepted it once).
  const sig = request.header
    .split(";")
    .find((part) => part.startsWith("sig="))
    ?.slice(4);
  if (sig === undefined) throw new ServiceError("DEVICE_SIGNATURE_MALFORMED", "sig がありません", {});
  return { deviceId: result.deviceId, nonce: result.nonce, ts: result.ts, signature: sig };
}

/**
 * Records a nonce; a second use is a replay. Nonces older than twice the allowed clock skew can no
 * longer pass the time check, so they are purged.
 */
function rememberNonce(ctx: ServiceContext, deviceId: string, nonce: string, ts: number): void {
  const now = ctx.now().getTime();
  const windowMs = ctx.config.deviceMaxSkewSeconds * 1000 * 2;
  ctx.db.prepare("DELETE FROM device_nonces WHERE ts < ?").run(now - windowMs);
  const r = ctx.db
    .prepare("INSERT OR IGNORE INTO device_nonces (device_id, nonce, ts) VALUES (?, ?, ?)")
    .run(deviceId, nonce, ts);
  if (r.changes === 0) {
    throw new ServiceError(
      "DEVICE_SIGNATURE_REPLAYED",
      "同じ操作が二度送信されました。画面を再読み込みしてください",
      {},
    );
  }
}
