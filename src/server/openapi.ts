/**
 * The served OpenAPI 3.1 document (`GET /api/v1/openapi.json`, checked in as `openapi/openapi.json`).
 * A test keeps it and the registered routes in step: every route is documented and every documented
 * route exists.
 */
import { z } from "zod";
import { newInstitutionSchema } from "../service/institutions.js";
import { resetRequestSchema } from "../service/accounts.js";
import { registerDeviceSchema } from "../service/devices.js";

interface Operation {
  readonly method: "get" | "post" | "delete";
  readonly path: string;
  readonly summary: string;
  /** none: TLS client certificate only; session: + session cookie; change: + CSRF token and device signature. */
  readonly auth: "certificate" | "session" | "change" | "change-no-device";
  readonly role?: "admin";
  readonly body?: z.ZodType;
  readonly ok: number;
  readonly okContent?: "json" | "csv" | "text" | "binary" | "none";
  readonly errors: readonly string[];
  /** Optional query parameters (string enums). */
  readonly query?: readonly {
    readonly name: string;
    readonly description: string;
    readonly values: readonly string[];
  }[];
}

const login = z.object({ loginId: z.string(), password: z.string() });
const password = z.object({ current: z.string(), next: z.string() });
const mapping = z.object({
  mapping: z.string().describe("Mapping file text (YAML or JSON, format kenshin-mapping v1)"),
  sample: z
    .string()
    .optional()
    .describe("Base64 of a sample export: converted in memory as a test, never stored"),
});
const revoke = z.object({ reason: z.string() });
const deviceLabel = z.object({ label: z.string().describe("1–60 characters") });
const mappingSave = z.object({
  mapping: z.string().describe("Mapping file text"),
  activate: z.boolean().describe("Make this version the active one"),
});
const mappingSuggest = z.object({
  sample: z.string().describe("Base64 of an export sample (converted in memory, never stored)"),
  name: z.string(),
});
const link = z.object({ senderId: z.string(), receiverId: z.string() });
const envelopeKey = z.object({
  publicKey: z
    .string()
    .describe("Client's ephemeral ECDH P-256 public key (base64url, 65-byte uncompressed point)"),
  purpose: z.enum(["upload", "download"]),
});
const lookup = z.object({
  sha256: z.string().describe("SHA-256 (hex) of a file or of one standard CSV record"),
});

export const OPERATIONS: readonly Operation[] = [
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
  {
    method: "post",
    path: "/api/v1/envelope-keys",
    summary: "送受信データの暗号化の鍵交換 (ECDH P-256; 1 回限り・10 分)",
    auth: "change",
    body: envelopeKey,
    ok: 201,
    errors: ["ENVELOPE_INVALID"],
  },
  {
    method: "post",
    path: "/api/v1/transfers",
    summary:
      "原本ファイルの送信と変換 (本文は暗号化封筒 application/octet-stream; ?receiver=<機関ID>; X-Kenshin-Envelope: <channelId>)",
    auth: "change",
    ok: 201,
    errors: [
      "RECEIVER_NOT_LINKED",
      "MAPPING_REQUIRED",
      "ENVELOPE_INVALID",
      "ENVELOPE_CHANNEL_INVALID",
      "UPLOAD_TOO_LARGE",
      "UPLOAD_UNUSABLE",
    ],
  },
  {
    method: "get",
    path: "/api/v1/transfers",
    summary: "転送の一覧 (健診機関: 送信したもの; 受信機関: 届いたもの)",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED"],
  },
  {
    method: "get",
    path: "/api/v1/transfers/{id}",
    summary: "転送と変換レポート (件数・指摘コードのみ) と、指摘に出る項目の名称と元の列名",
    auth: "session",
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "post",
    path: "/api/v1/transfers/{id}/send",
    summary: "送信確定",
    auth: "change",
    ok: 200,
    errors: ["NOT_FOUND", "TRANSFER_STATE", "INTEGRITY_FAILURE"],
  },
  {
    method: "post",
    path: "/api/v1/transfers/{id}/discard",
    summary: "送信前の破棄 (データは直ちに削除)",
    auth: "change",
    ok: 200,
    errors: ["NOT_FOUND", "TRANSFER_STATE"],
  },
  {
    method: "post",
    path: "/api/v1/transfers/{id}/download",
    summary: "標準フォーマット CSV のダウンロード (暗号化封筒; X-Kenshin-Envelope: <channelId>)",
    auth: "change",
    ok: 200,
    okContent: "binary",
    errors: [
      "NOT_FOUND",
      "TRANSFER_STATE",
      "ENVELOPE_CHANNEL_INVALID",
      "INTEGRITY_FAILURE",
      "REQUEST_INVALID",
      "UPLOAD_UNUSABLE",
    ],
    query: [
      {
        name: "codeHeader",
        description: "1: 見出しの2行目に各項目の JLAC10 コード行を入れる (台帳には csv-code-header と記録)",
        values: ["0", "1"],
      },
    ],
  },
  {
    method: "post",
    path: "/api/v1/transfers/{id}/download-fhir",
    summary:
      "同じ結果の FHIR R4 版: JP eCheckup の Bundle (受診者ごとに1つ) の NDJSON (暗号化封筒; X-Kenshin-Envelope: <channelId>)。応答ヘッダ kenshin-echeckup-summary (JSON) に Bundle に入らなかった項目と記録の一覧",
    auth: "change",
    ok: 200,
    okContent: "binary",
    errors: ["NOT_FOUND", "TRANSFER_STATE", "ENVELOPE_CHANNEL_INVALID", "INTEGRITY_FAILURE"],
  },
  {
    method: "post",
    path: "/api/v1/transfers/{id}/receipt",
    summary: "受領確定",
    auth: "change",
    ok: 200,
    errors: ["NOT_FOUND", "TRANSFER_STATE"],
  },
  {
    method: "get",
    path: "/api/v1/transfers/{id}/trail",
    summary: "操作の証跡と包含証明・署名付きチェックポイント、署名した端末の名前 (閲覧も記録)",
    auth: "session",
    ok: 200,
    errors: ["NOT_FOUND", "INTEGRITY_FAILURE"],
  },
  {
    method: "post",
    path: "/api/v1/lookup",
    summary: "ファイルまたは 1 レコードのハッシュ値で転送と証跡を照会 (2 段階の証明)",
    auth: "change-no-device",
    body: lookup,
    ok: 200,
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/api/v1/admin/monitoring",
    summary:
      "監視: 変換の件数とエラーコード、台帳の大きさと最新チェックポイント、最終バックアップ (個人情報なし)",
    auth: "session",
    role: "admin",
    ok: 200,
    errors: ["AUTH_FORBIDDEN"],
  },
];

const outcomeSchema = { $ref: "#/components/schemas/OperationOutcome" };

function security(auth: Operation["auth"]) {
  if (auth === "certificate") return [{ clientCertificate: [] }];
  if (auth === "session") return [{ clientCertificate: [], session: [] }];
  if (auth === "change-no-device") return [{ clientCertificate: [], session: [], csrf: [] }];
  return [{ clientCertificate: [], session: [], csrf: [], deviceSignature: [] }];
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params: Record<string, unknown>[] = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      ...(op.query ?? []).map((q) => ({
        name: q.name,
        in: "query",
        required: false,
        description: q.description,
        schema: { type: "string", enum: q.values },
      })),
    ];
    const content =
      op.okContent === "none"
        ? undefined
        : op.okContent === "csv"
          ? { "text/csv": { schema: { type: "string" } } }
          : op.okContent === "text"
            ? { "text/plain": { schema: { type: "string" } } }
            : op.okContent === "binary"
              ? { "application/octet-stream": { schema: { type: "string", format: "binary" } } }
              : { "application/json": { schema: { type: "object" } } };
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replaceAll(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
      security: security(op.auth),
      ...(op.role ? { "x-kenshin-role": op.role } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: {
                "application/json": {
                  schema: z.toJSONSchema(op.body, { io: "input", unrepresentable: "any" }),
                },
              },
            },
          }
        : {}),
      responses: {
        [String(op.ok)]: { description: "成功", ...(content ? { content } : {}) },
        default: {
          description: `エラー (OperationOutcome; コード例: ${op.errors.join(", ") || "REQUEST_MALFORMED"})`,
          content: { "application/fhir+json": { schema: outcomeSchema } },
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "kenshin-exchange API",
      version: "1",
      description:
        "健診結果の受け渡しサービスの API。すべての接続に TLS 1.3 とサービス CA 発行のクライアント証明書が必要です。" +
        " 状態を変える要求には X-CSRF-Token と、登録済み端末の署名 X-Kenshin-Device が必要です。",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: {
        clientCertificate: {
          type: "mutualTLS",
          description: "サービス CA が発行したクライアント証明書 (TLS 1.3)",
        },
        session: { type: "apiKey", in: "cookie", name: "__Host-kenshin_session" },
        csrf: { type: "apiKey", in: "header", name: "X-CSRF-Token" },
        deviceSignature: {
          type: "apiKey",
          in: "header",
          name: "X-Kenshin-Device",
          description:
            "v1;id=<device id>;ts=<ms>;nonce=<base64url>;sig=<base64url ECDSA P-256 P1363> over " +
            "kenshin-device-signature/v1, method, path, SHA-256 of the body, ts, nonce, device id (one per line).",
        },
      },
      schemas: {
        OperationOutcome: {
          type: "object",
          required: ["resourceType", "issue"],
          properties: {
            resourceType: { const: "OperationOutcome" },
            issue: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  severity: { type: "string" },
                  code: { type: "string" },
                  details: {
                    type: "object",
                    properties: {
                      coding: {
                        type: "array",
                        items: {
                          type: "object",
                          properties: { system: { type: "string" }, code: { type: "string" } },
                        },
                      },
                      text: { type: "string" },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
