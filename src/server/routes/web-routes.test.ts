import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerWebRoutes } from "./web-routes.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-web-"));
const app = Fastify();

function codeOf(body: string): unknown {
  return (JSON.parse(body) as { issue: { details: { coding: { code: string }[] } }[] }).issue[0]?.details
    .coding[0]?.code;
}

beforeAll(async () => {
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>x</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  writeFileSync(join(dir, "notes.md"), "not servable");
  registerWebRoutes(app, dir);
  app.get("/api/v1/health", () => ({ status: "ok" }));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("web routes", () => {
  it("answer / and client-side routes with index.html, to be revalidated", async () => {
    for (const url of ["/", "/login", "/transfers/tr_abcdefghijklmnop", "/admin/monitoring?x=1"]) {
      const r = await app.inject({ method: "GET", url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(r.headers["cache-control"]).toBe("no-store");
      expect(r.body).toContain("<title>x</title>");
    }
  });

  it("serve hashed assets with a year-long immutable cache", async () => {
    const r = await app.inject({ method: "GET", url: "/assets/index-abc123.js" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(r.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  });

  it("answer an unknown asset, a traversal attempt or an odd path with a coded 404", async () => {
    for (const url of [
      "/assets/missing.js",
      "/assets/../index.html",
      "/assets/%2e%2e/notes.md",
      "/notes.md",
      "/..%2f..%2fetc/passwd",
      "/Login",
    ]) {
      const r = await app.inject({ method: "GET", url });
      expect(r.statusCode, url).toBe(404);
      expect(codeOf(r.body), url).toBe("ROUTE_NOT_FOUND");
    }
  });

  it("leave /api/ paths and every method but GET and HEAD alone", async () => {
    expect((await app.inject({ method: "GET", url: "/api/v1/health" })).json()).toEqual({ status: "ok" });
    expect((await app.inject({ method: "GET", url: "/api/v1/nope" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/api/v1/nope" })).body).not.toContain("<!doctype");
    expect((await app.inject({ method: "POST", url: "/" })).statusCode).toBe(404);
    expect((await app.inject({ method: "HEAD", url: "/send" })).statusCode).toBe(200);
  });

  it("serve nothing but a coded 404 when the UI was not built", async () => {
    const bare = Fastify();
    registerWebRoutes(bare, join(dir, "does-not-exist"));
    const r = await bare.inject({ method: "GET", url: "/" });
    expect(r.statusCode).toBe(404);
    expect(codeOf(r.body)).toBe("ROUTE_NOT_FOUND");
    await bare.close();
  });
});
