/**
 * The HTTPS API: `buildApp` makes the Fastify app without listening (tests and `kenshin serve` both
 * use it). TLS 1.3 with a client certificate from the service CA on every connection; the CRL is
 * reloaded into the live TLS context whenever it changes, so a revoked certificate is refused from then
 * on without a restart.
 */
import { watchFile, unwatchFile, readFileSync } from "node:fs";
import Fastify, { type FastifyInstance } from "fastify";
import { isCodedError } from "../coded-error.js";
import { tlsServerOptions } from "../crypto/pki/tls-options.js";
import { LedgerError } from "../ledger/errors.js";
import { ledgerRollbackBehind } from "../service/signing/checkpoint-memory.js";
import type { ServiceContext } from "../service/context.js";
import type { EnvelopeChannels } from "../service/transfers/envelope-channels.js";
import type { ConversionReference } from "../service/mappings/mappings.js";
import {
  boundRequests,
  connectionFastifyOptions,
  connectionServerOptions,
  limitConnectionsPerAddress,
} from "./connection-limits.js";
import { lingerOnGracefulClose } from "./lingering-close.js";
import { clientErrorHandler, frameworkErrors } from "./framework-errors.js";
import { operationOutcome as outcome } from "../fhir/operation-outcome.js";
import { gateOnNodeHealth, type NodeHealthView, type QuarantineGate } from "./quarantine-gate.js";
import { toHttpError } from "./http-errors.js";
import { registerAccountRoutes } from "./routes/account-routes.js";
import { guardOpenConnections } from "./open-connections.js";
import { registerAdminRoutes } from "./routes/admin-routes.js";
import { registerFhirRoutes } from "./routes/fhir-routes.js";
import { registerMappingRoutes } from "./routes/mapping-routes.js";
import { registerMetaRoutes } from "./routes/meta-routes.js";
import { registerSessionRoutes } from "./routes/session-routes.js";
import { registerTransferRoutes } from "./routes/transfer-routes.js";
import { registerWebRoutes } from "./routes/web-routes.js";
import { registerSecurityHeaders } from "./security-headers.js";

export interface AppOptions {
  readonly ctx: ServiceContext;
  readonly reference: ConversionReference;
  readonly channels: EnvelopeChannels;
  /** pino options, or false (tests). Request bodies, cookies and signatures are never logged. */
  readonly logger?: boolean | { level: string };
  /** How often the CRL file is checked for changes made by another process (ms). */
  readonly crlPollMs?: number;
  /**
   * A cluster node's integrity state (`cluster/integrity/node-health.ts`). While it is not serving
   * (quarantined or repairing) a request on a connection still open is refused before any route runs:
   * `/api/v1/health` answers 503 with the state, every other route 503 CLUSTER_QUARANTINED, both with
   * `Connection: close` (quarantine-gate.ts; serve.ts also stops accepting connections meanwhile).
   */
  readonly nodeHealth?: NodeHealthView;
}

export interface App {
  readonly app: FastifyInstance;
  /** Re-reads the CRL file into the TLS context (also called by the service after a revocation). */
  reloadCrl(): void;
  /** With `nodeHealth`: what the node does to its connections while it does not serve. */
  readonly gate?: QuarantineGate;
}

function tlsOptionsFrom(ctx: ServiceContext) {
  const p = ctx.paths;
  return tlsServerOptions({
    caCertPem: readFileSync(p.caCert, "utf8"),
    certPem: readFileSync(p.serverCert, "utf8"),
    keyPem: readFileSync(p.serverKey, "utf8"),
    crlPem: readFileSync(p.crl, "utf8"),
  });
}

export function buildApp(options: AppOptions): App {
  const { ctx } = options;
  const app = Fastify({
    https: { ...tlsOptionsFrom(ctx), ...connectionServerOptions(ctx.config.connections) },
    ...connectionFastifyOptions(ctx.config.connections),
    logger:
      options.logger === undefined || options.logger === false
        ? false
        : {
            ...(typeof options.logger === "object" ? options.logger : {}),
            redact: ["req.headers.cookie", 'req.headers["x-kenshin-device"]', 'req.headers["x-csrf-token"]'],
          },
    bodyLimit: ctx.config.maxBodyBytes,
    // Request IDs go into ledger entries (BALP XrequestId); never derived from input.
    genReqId: () => Buffer.from(ctx.random(12)).toString("base64url"),
    return503OnClosing: true,
    forceCloseConnections: true,
    // Bad URLs, over-long path parameters and unparsable requests: coded answers too.
    frameworkErrors,
    clientErrorHandler,
  });

  app.decorateRequest("rawBody", null);
  app.removeAllContentTypeParsers();
  // Uploads: the enveloped export as bytes (its own, larger body limit on the upload route).
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (request, body, done) => {
    request.rawBody = body as Buffer;
    done(null, body);
  });
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const bytes = body as Buffer;
    request.rawBody = bytes;
    try {
      done(null, bytes.length === 0 ? undefined : (JSON.parse(bytes.toString("utf8")) as unknown));
    } catch {
      done(
        Object.assign(new Error("invalid JSON"), { statusCode: 400, code: "FST_ERR_CTP_INVALID_JSON_BODY" }),
        undefined,
      );
    }
  });

  limitConnectionsPerAddress(app.server, ctx.config.connections.perAddress);
  lingerOnGracefulClose(app.server);
  boundRequests(app, ctx.config.connections);
  registerSecurityHeaders(app);
  const health = options.nodeHealth;
  const gate = health === undefined ? undefined : gateOnNodeHealth(app, health);
  const cluster = ctx.cluster;
  if (cluster?.caughtUp !== undefined) {
    // A cluster node answers only once it applied what the cluster had ordered when the request came:
    // a session opened or a transfer made through another node is there on this one too.
    app.addHook("onRequest", async (request) => {
      const url = request.url;
      if (url === "/api/v1/health" || !(url.startsWith("/api/") || url.startsWith("/fhir"))) return;
      await cluster.caughtUp?.();
    });
  }
  const connections = guardOpenConnections(app, ctx);
  app.setErrorHandler((error, request, reply) => {
    // An unexpected failure on a ledger that went back in time (entries and checkpoints deleted under
    // the running node) is that integrity failure, answered as one, not a 500 — also when the write
    // port refused the append with its own ledger code (the outbox no longer matches the ledger).
    const explained =
      isCodedError(error) && !(error instanceof LedgerError) ? error : (ledgerRollbackBehind(ctx) ?? error);
    if (explained !== error)
      request.log.error({ err: error }, "ledger integrity alarm: the ledger went back");
    const { status, body, internal } = toHttpError(explained);
    if (internal) request.log.error({ err: error }, "internal error");
    return reply.code(status).header("content-type", "application/fhir+json; charset=utf-8").send(body);
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header("content-type", "application/fhir+json; charset=utf-8")
      .send(outcome("ROUTE_NOT_FOUND", "not-found", "見つかりません")),
  );

  registerMetaRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerAccountRoutes(app, ctx);
  registerAdminRoutes(app, ctx, options.reference);
  registerMappingRoutes(app, ctx, options.reference);
  registerTransferRoutes(app, ctx, { reference: options.reference, channels: options.channels });
  registerFhirRoutes(app, ctx);
  registerWebRoutes(app);

  const reloadCrl = (): void => {
    app.server.setSecureContext(tlsOptionsFrom(ctx));
    connections.sweep();
  };
  const poll = options.crlPollMs ?? 1000;
  const onChange = (): void => {
    try {
      reloadCrl();
    } catch (error) {
      app.log.error({ err: error }, "CRL reload failed; keeping the previous one");
    }
  };
  watchFile(ctx.paths.crl, { interval: poll, persistent: false }, onChange);
  app.addHook("onClose", (_instance, done) => {
    unwatchFile(ctx.paths.crl, onChange);
    done();
  });
  return { app, reloadCrl, ...(gate !== undefined ? { gate } : {}) };
}
