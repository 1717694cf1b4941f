/**
 * What a person does with the devices (browsers) registered to the login ID that an institution's staff
 * share: give one a clearer name, or remove one that is no longer used (a replaced PC, a browser
 * profile that was reset). Each change is a ledger entry signed by the device that made it. The device
 * signing the request cannot remove itself: the person would be cut off in the middle of the step, and
 * "log out and register again" is the way to replace the current browser's key.
 */
import { z } from "zod";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { listDevices, type Device } from "./devices.js";
import { ServiceError } from "../errors.js";
import { deviceRemove, deviceRename } from "../state-commands/device-commands.js";

const labelBody = z.object({ label: z.string().trim().min(1).max(60) }).strict();
/** Device IDs are base64url SHA-256 thumbprints (RFC 7638) — see src/client/device-key.ts. */
const DEVICE_ID = /^[A-Za-z0-9_-]{20,64}$/;

function ownDevice(ctx: ServiceContext, actor: Actor, deviceId: unknown): Device {
  const device =
    typeof deviceId === "string" && DEVICE_ID.test(deviceId)
      ? listDevices(ctx, actor.loginId).find((d) => d.id === deviceId)
      : undefined;
  if (!device) throw new ServiceError("NOT_FOUND", "端末が見つかりません", {});
  return device;
}

/** Renames one of the actor's devices. */
export async function renameDevice(
  ctx: ServiceContext,
  actor: Actor,
  deviceId: unknown,
  body: unknown,
): Promise<Device> {
  const device = ownDevice(ctx, actor, deviceId);
  const parsed = labelBody.safeParse(body);
  if (!parsed.success) {
    throw new ServiceError("REQUEST_INVALID", "端末の名前は1文字以上60文字以内で入力してください", {});
  }
  await audit(ctx, [adminRecord(ctx, actor, "device.update", { kind: "device", id: device.id })], {
    command: deviceRename.of({ id: device.id, label: parsed.data.label }),
  });
  return { ...device, label: parsed.data.label };
}

/** Removes one of the actor's other devices: its key can sign nothing from now on. */
export async function removeDevice(ctx: ServiceContext, actor: Actor, deviceId: unknown): Promise<void> {
  const device = ownDevice(ctx, actor, deviceId);
  if (actor.device?.keyId === device.id) {
    throw new ServiceError(
      "DEVICE_IN_USE",
      "いま使っている端末は削除できません。別の端末から削除してください",
      {},
    );
  }
  await audit(ctx, [adminRecord(ctx, actor, "device.remove", { kind: "device", id: device.id })], {
    command: deviceRemove.of({ id: device.id }),
  });
}

/**
 * The names people gave the devices in `keyIds` (for trail timelines). A removed device keeps its ID in
 * the ledger but has no name any more; it is simply absent here.
 */
export function deviceLabels(ctx: ServiceContext, keyIds: Iterable<string>): Record<string, string> {
  const stmt = ctx.db.prepare<[string], { label: string }>("SELECT label FROM devices WHERE id = ?");
  const labels: Record<string, string> = {};
  for (const id of new Set(keyIds)) {
    const row = stmt.get(id);
    if (row) labels[id] = row.label;
  }
  return labels;
}
