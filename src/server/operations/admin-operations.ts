/**
 * The office's (事務局) operations: institutions, mappings, accounts, certificates, links and the
 * account inventory. Every one needs the admin role.
 */
import { z } from "zod";
import { resetRequestSchema } from "../../service/identity/accounts.js";
import { newInstitutionSchema } from "../../service/identity/institutions.js";
import type { Operation } from "./operation.js";

const mapping = z.object({
  mapping: z.string().describe("Mapping file text (YAML or JSON, format kenshin-mapping v1)"),
  sample: z
    .string()
    .optional()
    .describe("Base64 of a sample export: converted in memory as a test, never stored"),
});
const revoke = z.object({ reason: z.string() });
const mappingSave = z.object({
  mapping: z.string().describe("Mapping file text"),
  activate: z.boolean().describe("Make this version the active one"),
});
const mappingSuggest = z.object({
  sample: z.string().describe("Base64 of an export sample (converted in memory, never stored)"),
  name: z.string(),
});
const link = z.object({ senderId: z.string(), receiverId: z.string() });

/** In the document's order (the paths object follows it). */
export const ADMIN_OPERATIONS: readonly Operation[] = [
  {
    method: "get",
    path: "/api/v1/admin/institutions",
    summary: "機関の一覧 (利用者ID・ロック・最終ログイン・マッピングの有無・有効な証明書の数)",
    auth: "session",
    role: "admin",
    ok: 200,
    errors: ["AUTH_FORBIDDEN"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions",
    summary: "機関の登録",
    auth: "change",
    role: "admin",
    body: newInstitutionSchema,
    ok: 201,
    errors: ["INSTITUTION_INVALID", "INSTITUTION_EXISTS"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/mapping",
    summary: "マッピングファイルの登録 (サンプルで試験変換; サンプルは保存しない)",
    auth: "change",
    role: "admin",
    body: mapping,
    ok: 201,
    errors: ["MAPPING_INVALID", "NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/mappings/check",
    summary: "マッピング案の検証 (サンプルがあれば試験変換: 件数とコードのみ; 何も保存しない)",
    auth: "change",
    role: "admin",
    body: mapping,
    ok: 200,
    errors: ["REQUEST_INVALID"],
  },
  {
    method: "post",
    path: "/api/v1/admin/mappings/suggest",
    summary: "見本ファイルからマッピングの下書きを作る (見本は保存しない)",
    auth: "change",
    role: "admin",
    body: mappingSuggest,
    ok: 200,
    errors: ["REQUEST_INVALID"],
  },
  {
    method: "get",
    path: "/api/v1/admin/institutions/{id}/mappings",
    summary: "マッピングの全版の一覧",
    auth: "session",
    role: "admin",
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/api/v1/admin/institutions/{id}/mappings/{mappingId}",
    summary: "マッピングの版 (本文つき)",
    auth: "session",
    role: "admin",
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/mappings",
    summary: "マッピングの新しい版を保存 (有効化は任意; 台帳に記録)",
    auth: "change",
    role: "admin",
    body: mappingSave,
    ok: 201,
    errors: ["MAPPING_INVALID", "NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/mappings/{mappingId}/activate",
    summary: "保存済みの版を有効にする (台帳に記録)",
    auth: "change",
    role: "admin",
    ok: 200,
    errors: ["MAPPING_INVALID", "NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/account",
    summary: "利用者IDの発行 (仮パスワード; 健診機関はマッピング登録後)",
    auth: "change",
    role: "admin",
    ok: 201,
    errors: ["MAPPING_REQUIRED", "ACCOUNT_EXISTS", "NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/certificates",
    summary: "クライアント証明書の発行 (PEM と PKCS#12)",
    auth: "change",
    role: "admin",
    ok: 201,
    errors: ["NOT_FOUND", "AUTH_ACCOUNT_DISABLED"],
  },
  {
    method: "post",
    path: "/api/v1/admin/institutions/{id}/disable",
    summary: "機関を利用不可にする (証明書も失効)",
    auth: "change",
    role: "admin",
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/api/v1/admin/certificates",
    summary: "証明書の一覧",
    auth: "session",
    role: "admin",
    ok: 200,
    errors: ["AUTH_FORBIDDEN"],
  },
  {
    method: "post",
    path: "/api/v1/admin/certificates/{serial}/revoke",
    summary: "証明書の失効 (再起動なしで拒否されます)",
    auth: "change",
    role: "admin",
    body: revoke,
    ok: 204,
    okContent: "none",
    errors: ["NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/accounts/{loginId}/password-reset",
    summary: "パスワード再設定 (依頼者と確認方法を記録)",
    auth: "change",
    role: "admin",
    body: resetRequestSchema,
    ok: 201,
    errors: ["NOT_FOUND", "REQUEST_INVALID"],
  },
  {
    method: "post",
    path: "/api/v1/admin/accounts/{loginId}/unlock",
    summary: "利用者IDのロックを解除する (失敗回数も0に戻す)",
    auth: "change",
    role: "admin",
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/admin/links",
    summary: "送信機関と受信機関の結び付け",
    auth: "change",
    role: "admin",
    body: link,
    ok: 204,
    okContent: "none",
    errors: ["LINK_INVALID", "NOT_FOUND"],
  },
  {
    method: "get",
    path: "/api/v1/admin/inventory.csv",
    summary: "利用者IDの棚卸表 (CSV)",
    auth: "session",
    role: "admin",
    ok: 200,
    okContent: "csv",
    errors: ["AUTH_FORBIDDEN"],
  },
];
