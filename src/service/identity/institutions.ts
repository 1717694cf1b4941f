/**
 * Institutions (事務局, 健診機関, 健診実施主体/代行機関) and the sender → receiver links. One login ID
 * per institution (staff share it, as the service being replaced does).
 */
import { z } from "zod";
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { opaqueId } from "../ids.js";
import { institutionCreate, institutionLink } from "../state-commands/account-commands.js";

export type InstitutionKind = "office" | "sender" | "receiver";
export type InstitutionStatus = "active" | "disabled";

export interface Institution {
  readonly id: string;
  readonly kind: InstitutionKind;
  readonly name: string;
  readonly number: string | null;
  readonly status: InstitutionStatus;
  readonly createdAt: string;
}

interface InstitutionRow {
  id: string;
  kind: InstitutionKind;
  name: string;
  number: string | null;
  status: InstitutionStatus;
  created_at: string;
}

const toInstitution = (r: InstitutionRow): Institution => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  number: r.number,
  status: r.status,
  createdAt: r.created_at,
});

/** What creating an institution takes; numbers by kind: 健診機関番号 10 digits, receiver 8 digits (保険者番号) or another code. */
export const newInstitutionSchema = z
  .object({
    kind: z.enum(["office", "sender", "receiver"]),
    name: z.string().trim().min(1).max(64),
    number: z
      .string()
      .regex(/^[0-9A-Za-z-]{1,20}$/)
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.kind === "sender" && !/^\d{10}$/.test(v.number ?? "")) {
      ctx.addIssue({ code: "custom", path: ["number"], message: "健診機関番号は10桁の数字です" });
    }
  });
export type NewInstitution = z.input<typeof newInstitutionSchema>;

export async function createInstitution(
  ctx: ServiceContext,
  actor: Actor,
  input: unknown,
  /**
   * `firstOffice`: the service's first office ID, refused in the command's order when an office exists
   * (INSTITUTION_EXISTS, context `firstOffice`); `leading`: entries appended with it, before its own.
   */
  first: { readonly firstOffice?: boolean; readonly leading?: readonly RecordInput[] } = {},
): Promise<Institution> {
  const parsed = newInstitutionSchema.safeParse(input);
  if (!parsed.success) {
    throw new ServiceError(
      "INSTITUTION_INVALID",
      `機関の情報が正しくありません: ${parsed.error.issues[0]?.message ?? ""}`,
      {
        path: parsed.error.issues[0]?.path.join("."),
      },
    );
  }
  const v = parsed.data;
  const id = opaqueId("inst", ctx.random);
  const createdAt = ctx.now().toISOString();
  await audit(
    ctx,
    [...(first.leading ?? []), adminRecord(ctx, actor, "institution.create", { kind: "institution", id })],
    {
      command: institutionCreate.of({
        id,
        kind: v.kind,
        name: v.name,
        number: v.number ?? null,
        at: createdAt,
        ...(first.firstOffice === true ? { firstOffice: true as const } : {}),
      }),
    },
  );
  return { id, kind: v.kind, name: v.name, number: v.number ?? null, status: "active", createdAt };
}

export function getInstitution(ctx: ServiceContext, id: string): Institution {
  const row = ctx.db.prepare<[string], InstitutionRow>("SELECT * FROM institutions WHERE id = ?").get(id);
  if (!row) throw new ServiceError("NOT_FOUND", "機関が見つかりません", {});
  return toInstitution(row);
}

export function listInstitutions(ctx: ServiceContext): Institution[] {
  return ctx.db
    .prepare<[], InstitutionRow>("SELECT * FROM institutions ORDER BY created_at, id")
    .all()
    .map(toInstitution);
}

/** Lets a sender send to a receiver. */
export async function linkInstitutions(
  ctx: ServiceContext,
  actor: Actor,
  senderId: string,
  receiverId: string,
): Promise<void> {
  const sender = getInstitution(ctx, senderId);
  const receiver = getInstitution(ctx, receiverId);
  if (sender.kind !== "sender" || receiver.kind !== "receiver") {
    throw new ServiceError(
      "LINK_INVALID",
      "送信機関 (健診機関) から受信機関 (健診実施主体・代行機関) へのみ結び付けられます",
      {},
    );
  }
  const linkedAt = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "institution.update", { kind: "institution", id: senderId })], {
    command: institutionLink.of({ senderId, receiverId, at: linkedAt }),
  });
}

/** The receivers a sender may send to. */
export function receiversOf(ctx: ServiceContext, senderId: string): Institution[] {
  return ctx.db
    .prepare<[string], InstitutionRow>(
      "SELECT i.* FROM links l JOIN institutions i ON i.id = l.receiver_id WHERE l.sender_id = ? ORDER BY i.name",
    )
    .all(senderId)
    .map(toInstitution);
}

/** Marks an institution 利用不可 (the caller also revokes its certificates and ends its sessions). */
export function setInstitutionStatus(ctx: ServiceContext, id: string, status: InstitutionStatus): void {
  const r = ctx.db.prepare("UPDATE institutions SET status = ? WHERE id = ?").run(status, id);
  if (r.changes === 0) throw new ServiceError("NOT_FOUND", "機関が見つかりません", {});
}
