/**
 * The FHIR R4 endpoint under `/fhir`, on the same mutual-TLS origin and sessions as the API:
 * `metadata` (CapabilityStatement), AuditEvent search (GET, or POST `_search` with a form body so the
 * parameters stay out of URLs and access logs) and read, Provenance search by target. Answers are
 * `application/fhir+json`; errors are OperationOutcome (http-errors.ts). Resources are built in fhir/.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { parseAuditEventSearch, type AuditEventCriteria } from "../../fhir/audit-event-search.js";
import { searchsetBundle } from "../../fhir/bundle.js";
import { capabilityStatement } from "../../fhir/capability-statement.js";
import { deviceSignatureText, type DeviceSignatureCheck } from "../../client/device-signature-check.js";
import { FhirError } from "../../fhir/errors.js";
import { checkFhirInput } from "../../fhir/input-guard.js";
import { informationOutcome } from "../../fhir/operation-outcome.js";
import { readProvenanceVerifyInput } from "../../fhir/provenance-verify-input.js";
import { verifyProvenanceSeal } from "../../service/signing/provenance-verify.js";
import { indexInBackground } from "../../service/audit/audit-event-index.js";
import { readAuditEvent, searchAuditEvents } from "../../service/audit/audit-events.js";
import { searchProvenance } from "../../service/signing/provenances.js";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import { guard } from "../request-auth.js";

export const FHIR_JSON = "application/fhir+json; charset=utf-8";
const SOFTWARE_VERSION = "0.1.0";

const deviceText = (check: DeviceSignatureCheck | undefined): string =>
  check === undefined ? "" : `、${deviceSignatureText(check)}`;

/** The FHIR base of this request: a configured host name (never a reflected Host header) and the port. */
export function fhirBase(ctx: ServiceContext, request: FastifyRequest): string {
  const names = ctx.config.hostNames;
  const asked = request.hostname.replace(/:\d+$/, "");
  const host = names.includes(asked) ? asked : (names[0] ?? "localhost");
  const port = request.raw.socket.localPort;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return `https://${hostPart}${port === undefined || port === 443 ? "" : `:${port}`}/fhir`;
}

/** Query parameters as the URL carries them, in order (never Fastify's merged object). */
function paramsOf(search: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(search)) {
    const list = out.get(name) ?? [];
    list.push(value);
    out.set(name, list);
  }
  return out;
}

function queryPart(request: FastifyRequest): string {
  const q = request.url.indexOf("?");
  return q < 0 ? "" : request.url.slice(q + 1);
}

const send = (reply: FastifyReply, body: unknown): FastifyReply =>
  reply.header("content-type", FHIR_JSON).send(body);

export function registerFhirRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const startedAt = ctx.now().toISOString();
  // The AuditEvent search index follows the ledger in small background steps while the server runs.
  const stopIndexing = indexInBackground(ctx);
  app.addHook("onClose", (_instance, done) => {
    stopIndexing();
    done();
  });

  void app.register((scope, _opts, done) => {
    // POST _search: the FHIR form body (http://hl7.org/fhir/R4/http.html#search).
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "buffer", bodyLimit: 16 * 1024 },
      (request, body, next) => {
        request.rawBody = body as Buffer;
        next(null, (body as Buffer).toString("utf8"));
      },
    );

    // Every FHIR JSON input is checked before anything reads it (N1): script, event attributes,
    // javascript: URLs and external references are refused with an OperationOutcome.
    scope.addContentTypeParser("application/fhir+json", { parseAs: "buffer" }, (request, body, next) => {
      request.rawBody = body as Buffer;
      let parsed: unknown;
      try {
        parsed = JSON.parse((body as Buffer).toString("utf8"));
      } catch {
        next(new FhirError("FHIR_INPUT_INVALID", "FHIR JSON ではありません", {}), undefined);
        return;
      }
      try {
        checkFhirInput(parsed);
        next(null, parsed);
      } catch (error) {
        next(error as Error, undefined);
      }
    });

    // Provenance/$verify: Parameters { provenance: Provenance, file: base64Binary } → does the file match
    // its seal? 200 with an informational OperationOutcome, or 422 SIGNATURE_INVALID (recorded, outcome 8).
    scope.post("/fhir/Provenance/$verify", async (request, reply) => {
      const { actor } = await guard(ctx, request, { change: true, device: false });
      const input = readProvenanceVerifyInput(request.body);
      const result = await verifyProvenanceSeal(ctx, actor, input.provenance, input.file);
      return send(
        reply,
        informationOutcome(
          "SIGNATURE_VALID",
          `署名を検証しました: 署名者 ${result.signer}${result.timestamp !== undefined ? `、タイムスタンプ ${result.timestamp}` : ""}${deviceText(result.device)}`,
        ),
      );
    });

    scope.get("/fhir/metadata", async (request, reply) => {
      await guard(ctx, request);
      return send(
        reply,
        capabilityStatement({
          base: fhirBase(ctx, request),
          date: startedAt,
          softwareVersion: SOFTWARE_VERSION,
        }),
      );
    });

    const search = async (request: FastifyRequest, reply: FastifyReply, raw: string) => {
      const { session, actor } = await guard(ctx, request, {
        change: request.method === "POST",
        device: false,
      });
      const criteria: AuditEventCriteria = parseAuditEventSearch(paramsOf(raw));
      const page = await searchAuditEvents(ctx, actor, session, criteria);
      const base = fhirBase(ctx, request);
      const url = (before?: number) => {
        const q = [criteria.canonical, ...(before !== undefined ? [`_before=${before}`] : [])].filter(
          (s) => s !== "",
        );
        return `${base}/AuditEvent${q.length > 0 ? `?${q.join("&")}` : ""}`;
      };
      return send(
        reply,
        searchsetBundle({
          base,
          resources: page.events,
          links: [
            { relation: "self", url: url(criteria.before) },
            ...(page.next !== undefined ? [{ relation: "next" as const, url: url(page.next) }] : []),
          ],
          timestamp: ctx.now().toISOString(),
        }),
      );
    };

    scope.get("/fhir/AuditEvent", (request, reply) => search(request, reply, queryPart(request)));

    scope.post("/fhir/AuditEvent/_search", (request, reply) => {
      if (queryPart(request) !== "") {
        throw new ServiceError("REQUEST_INVALID", "POST の検索では条件を本文だけに書いてください", {});
      }
      return search(request, reply, typeof request.body === "string" ? request.body : "");
    });

    scope.get("/fhir/AuditEvent/:id", async (request, reply) => {
      const { session, actor } = await guard(ctx, request);
      const id = (request.params as { id?: unknown }).id;
      if (typeof id !== "string" || id.length > 64) throw new ServiceError("NOT_FOUND", "見つかりません", {});
      return send(reply, await readAuditEvent(ctx, actor, session, id));
    });

    scope.get("/fhir/Provenance", async (request, reply) => {
      const { session, actor } = await guard(ctx, request);
      const params = paramsOf(queryPart(request));
      const target = params.get("target");
      const unknown = [...params.keys()].filter((k) => k !== "target" && k !== "_format");
      if (target?.length !== 1 || unknown.length > 0 || (target[0] ?? "").length > 200) {
        throw new FhirError(
          "FHIR_SEARCH_INVALID",
          "検索条件が正しくありません: target を一つ指定してください",
          {},
        );
      }
      const base = fhirBase(ctx, request);
      const provenances = await searchProvenance(ctx, actor, session, target[0] ?? "");
      return send(
        reply,
        searchsetBundle({
          base,
          resources: provenances,
          links: [
            {
              relation: "self",
              url: `${base}/Provenance?${new URLSearchParams({ target: target[0] ?? "" }).toString()}`,
            },
          ],
          timestamp: ctx.now().toISOString(),
        }),
      );
    });

    done();
  });
}
