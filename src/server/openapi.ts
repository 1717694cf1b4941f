/**
 * The served OpenAPI 3.1 document (`GET /api/v1/openapi.json`, checked in as `openapi/openapi.json`),
 * built from the route table (operations/operations.ts). A test keeps it and the registered routes in
 * step: every route is documented and every documented route exists.
 */
import { z } from "zod";
import type { Operation } from "./operations/operation.js";
import { OPERATIONS } from "./operations/operations.js";

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
