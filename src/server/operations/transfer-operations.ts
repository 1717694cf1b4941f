/**
 * The transfer operations: envelope key agreement, upload, list, detail, 送信確定, discard, download
 * (CSV or FHIR), 受領確定, trail, look-up by hash; and the office's monitoring view (metadata only), as
 * routes/transfer-routes.ts registers them.
 */
import { z } from "zod";
import type { Operation } from "./operation.js";

const envelopeKey = z.object({
  publicKey: z
    .string()
    .describe("Client's ephemeral ECDH P-256 public key (base64url, 65-byte uncompressed point)"),
  purpose: z.enum(["upload", "download"]),
});
const lookup = z.object({
  sha256: z.string().describe("SHA-256 (hex) of a file or of one standard CSV record"),
});

/** In the document's order (the paths object follows it). */
export const TRANSFER_OPERATIONS: readonly Operation[] = [
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
    summary:
      "転送の一覧 (健診機関: 送信したもの; 受信機関: 届いたもの)。各転送の damaged: 全ての複製で破損 (復旧不可); repairing: 破損が見つかり他のノードの複製から修復中 (その間ダウンロードと送信確定は 503 TRANSFER_REPAIRING、後で再試行)",
    auth: "session",
    ok: 200,
    errors: ["AUTH_REQUIRED"],
  },
  {
    method: "get",
    path: "/api/v1/transfers/{id}",
    summary:
      "転送と変換レポート (件数・指摘コードのみ) と、指摘に出る項目の名称と元の列名 (damaged / repairing は一覧と同じ)",
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
    errors: ["NOT_FOUND", "TRANSFER_STATE", "INTEGRITY_FAILURE", "TRANSFER_DAMAGED", "TRANSFER_REPAIRING"],
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
      "TRANSFER_DAMAGED",
      "TRANSFER_REPAIRING",
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
    errors: [
      "NOT_FOUND",
      "TRANSFER_STATE",
      "ENVELOPE_CHANNEL_INVALID",
      "INTEGRITY_FAILURE",
      "TRANSFER_DAMAGED",
      "TRANSFER_REPAIRING",
    ],
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
