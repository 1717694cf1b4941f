/**
 * The browser UI (web/, built into dist/web by `npm run build`), served on the API's own mutual-TLS
 * origin: `index.html` for `/` and every client-side route, the hashed files under `/assets/` with a
 * long cache. Everything is read into memory once at start, and a request can only ever name an entry of
 * that in-memory table, so no request path reaches the file system (no traversal to guard against).
 *
 * Served from an onRequest hook rather than as routes: the route table stays exactly the API that the
 * OpenAPI document describes, and `/api/…` paths never reach this code (an unknown one still gets the
 * API's coded 404). Only GET and HEAD; anything else falls through to the 404 answer.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { operationOutcome as outcome } from "../../fhir/operation-outcome.js";

interface WebFile {
  readonly body: Buffer;
  readonly type: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Hashed build output: the name changes with the content, so it may be cached for a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/**
 * index.html names the current hashed files, so the browser must ask again each time; and, as every
 * other answer, it is never stored (README: `Cache-Control: no-store` on every answer).
 */
const REVALIDATE = "no-store";
/** Client-side routes: lower-case path segments, as the UI's router uses them. */
const CLIENT_ROUTE = /^\/(?:[a-z0-9_-]{1,64}\/){0,4}[a-z0-9_-]{0,64}$/;
const MAX_FILES = 500;

/** dist/web next to the compiled server (dist/server/routes → dist/web), or from src/ under vitest. */
function defaultWebDir(): string {
  const built = fileURLToPath(new URL("../../web/", import.meta.url));
  return existsSync(join(built, "index.html"))
    ? built
    : fileURLToPath(new URL("../../../dist/web/", import.meta.url));
}

/** Reads every servable file below `dir` into a table keyed by URL path ("/assets/x.js"). */
export function loadWebFiles(dir: string): ReadonlyMap<string, WebFile> {
  const files = new Map<string, WebFile>();
  if (!existsSync(dir)) return files;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const stat = statSync(full);
      if (stat.isDirectory()) walk(full);
      const type = CONTENT_TYPES[extname(name).toLowerCase()];
      if (!stat.isFile() || type === undefined || files.size >= MAX_FILES) continue;
      files.set(`/${relative(dir, full).split(sep).join("/")}`, { body: readFileSync(full), type });
    }
  };
  walk(dir);
  return files;
}

function send(reply: FastifyReply, file: WebFile, cacheControl: string): FastifyReply {
  return reply
    .code(200)
    .header("content-type", file.type)
    .header("cache-control", cacheControl)
    .send(file.body);
}

function notFound(reply: FastifyReply, text: string): FastifyReply {
  return reply
    .code(404)
    .header("content-type", "application/fhir+json; charset=utf-8")
    .send(outcome("ROUTE_NOT_FOUND", "not-found", text));
}

/** Serves the UI from `dir` (default: the built dist/web). */
export function registerWebRoutes(app: FastifyInstance, dir: string = defaultWebDir()): void {
  const files = loadWebFiles(dir);
  const index = files.get("/index.html");
  app.addHook("onRequest", async (request, reply) => {
    if (request.method !== "GET" && request.method !== "HEAD") return;
    const query = request.url.indexOf("?");
    const path = query < 0 ? request.url : request.url.slice(0, query);
    if (path === "/api" || path.startsWith("/api/")) return;
    // The FHIR endpoint (fhir-routes.ts) answers its own paths, unknown ones with the coded 404.
    if (path === "/fhir" || path.startsWith("/fhir/")) return;
    if (path.startsWith("/assets/")) {
      const file = files.get(path);
      return file ? send(reply, file, IMMUTABLE) : notFound(reply, "ファイルが見つかりません");
    }
    const top = path === "/index.html" ? undefined : files.get(path);
    if (top) return send(reply, top, REVALIDATE);
    if (!CLIENT_ROUTE.test(path)) return notFound(reply, "見つかりません");
    if (!index) return notFound(reply, "画面が組み込まれていません (npm run build で作成します)");
    return send(reply, index, REVALIDATE);
  });
}
