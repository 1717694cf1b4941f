/**
 * The operations every user has: health and this document, the session, the password, the ID's
 * devices, the ledger's checkpoint and trust anchors, receivers, and the audit trail.
 */
import { z } from "zod";
import { registerDeviceSchema } from "../../service/identity/devices.js";
import type { Operation } from "./operation.js";

const login = z.object({ loginId: z.string(), password: z.string() });
const password = z.object({ current: z.string(), next: z.string() });
const deviceLabel = z.object({ label: z.string().describe("1–60 characters") });

/** In the document's order (the paths object follows it). */
export const SESSION_OPERATIONS: readonly Operation[] = [
  { method: "get", path: "/api/v1/health", summary: "死活確認", auth: "certificate", ok: 200, errors: [] },
  {
    method: "get",
    path: "/api/v1/openapi.json",
    summary: "この API の OpenAPI 文書",
    auth: "certificate",
    ok: 200,
    errors: [],
  },
  {
    method: "post",
    path: "/api/v1/session",
    summary: "ログイン (クライアント証明書 + 利用者ID + パスワード)",
    auth: "certificate",
    body: login,
    ok: 201,
    errors: [
      "AUTH_FAILED",
      "AUTH_LOCKED",
      "AUTH_CERTIFICATE_MISMATCH",
      "AUTH_ACCOUNT_DISABLED",
      "REQUEST_INVALID",
    ],
  },
  {
    method: "get",
    path: "/api/v1/session",
    summary: "現在のセッション",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED", "AUTH_SESSION_EXPIRED"],
  },
  {
    method: "delete",
    path: "/api/v1/session",
    summary: "ログアウト",
    auth: "change-no-device",
    ok: 204,
    okContent: "none",
    errors: ["AUTH_REQUIRED", "AUTH_CSRF_INVALID"],
  },
  {
    method: "post",
    path: "/api/v1/account/password",
    summary: "パスワード変更 (仮パスワードからの変更を含む)",
    auth: "change",
    body: password,
    ok: 204,
    okContent: "none",
    errors: ["PASSWORD_WRONG", "PASSWORD_POLICY", "DEVICE_NOT_REGISTERED"],
  },
  {
    method: "get",
    path: "/api/v1/devices",
    summary: "この利用者IDに登録された端末",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED"],
  },
  {
    method: "post",
    path: "/api/v1/devices",
    summary: "端末の登録 (要求自体をその端末の鍵で署名)",
    auth: "change-no-device",
    body: registerDeviceSchema,
    ok: 201,
    errors: ["DEVICE_CONFIRMATION_REQUIRED", "DEVICE_SIGNATURE_INVALID", "DEVICE_KEY_INVALID"],
  },
  {
    method: "post",
    path: "/api/v1/devices/{id}/label",
    summary: "自分の端末の名前を変える",
    auth: "change",
    body: deviceLabel,
    ok: 200,
    errors: ["NOT_FOUND", "REQUEST_INVALID"],
  },
  {
    method: "delete",
    path: "/api/v1/devices/{id}",
    summary: "自分の別の端末を削除する (いま使っている端末は削除できません)",
    auth: "change",
    ok: 204,
    okContent: "none",
    errors: ["NOT_FOUND", "DEVICE_IN_USE"],
  },
  {
    method: "get",
    path: "/api/v1/ledger/checkpoint",
    summary: "台帳の最新の署名付きチェックポイント (C2SP signed note)",
    auth: "session",
    ok: 200,
    okContent: "text",
    errors: ["AUTH_REQUIRED"],
  },
  {
    method: "get",
    path: "/api/v1/ledger/verifier-key",
    summary: "台帳の検証鍵 (C2SP signed-note vkey; 利用者が初回に記録して以後の照合に使う)",
    auth: "certificate",
    ok: 200,
    okContent: "text",
    errors: [],
  },
  {
    method: "get",
    path: "/api/v1/ledger/cosigners",
    summary:
      "クラスタの連署者 (各オンラインノードの連署鍵と定足数; 単一ノードでは空; 利用者が検証鍵と共に初回に記録する)",
    auth: "certificate",
    ok: 200,
    okContent: "text",
    errors: [],
  },
  {
    method: "get",
    path: "/api/v1/ledger/signing-trust",
    summary:
      "署名と時刻認証の信頼点 (組織印の発行CA、時刻認証局のCA; PEM; 利用者が初回に記録して以後の照合に使う)",
    auth: "certificate",
    ok: 200,
    errors: [],
  },
  {
    method: "get",
    path: "/api/v1/receivers",
    summary: "この利用者IDが送信できる受信機関 (健診機関のみ; ID と名称)",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED"],
  },
  {
    method: "get",
    path: "/api/v1/audit",
    summary: "監査証跡 (自機関の記録; 事務局は全件) — 閲覧も記録されます",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED"],
  },
];
