/**
 * Bad input over real HTTPS never gets a 500: malformed JSON, wrong content types, huge bodies, odd
 * characters in IDs and paths, unknown routes, and arbitrary device-signature, cookie and CSRF headers
 * and bodies (fast-check, bounded runs) all get a coded 4xx OperationOutcome, and the server keeps
 * answering afterwards.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, type ApiClient, type ApiResponse } from "../src/client/api-client.js";
import {
  expectCode,
  firstLogin,
  fsckDataDir,
  rawRequest,
  startTestNode,
  type TestNode,
} from "./support/test-node.js";

let node: TestNode;
let office: ApiClient;
let officePassword: string;
let receiver: ApiClient;
let receiverPassword: string;

beforeAll(async () => {
  node = await startTestNode();
  office = node.client("office");
  const o = node.account("office");
  officePassword = (await firstLogin(office, o.loginId, o.password)).password;
  receiver = node.client("receiver");
  const r = node.account("receiver");
  receiverPassword = (await firstLogin(receiver, r.loginId, r.password)).password;
});

afterAll(async () => {
  await node.close();
});

/** A 4xx OperationOutcome with one of our codes. */
function expectCoded4xx(r: ApiResponse): void {
  expect(r.status, r.text).toBeGreaterThanOrEqual(400);
  expect(r.status, r.text).toBeLessThan(500);
  expect((r.json as { resourceType?: unknown } | undefined)?.resourceType, r.text).toBe("OperationOutcome");
  expect(errorCode(r), r.text).toMatch(/^[A-Z][A-Z0-9_]+$/);
}

async function stillAnswering(): Promise<void> {
  expect((await receiver.get("/api/v1/health")).status).toBe(200);
  expect((await receiver.get("/api/v1/session")).status).toBe(200);
}

describe("malformed bodies and content types", () => {
  it("answers malformed JSON with 400 REQUEST_MALFORMED", async () => {
    for (const body of ["{", '{"loginId":', "nul", "[1,2", '{"a":1}x', "\u0000", "\uFEFF{}"]) {
      const r = await receiver.request("POST", "/api/v1/session", { body, contentType: "application/json" });
      expectCode(r, 400, "REQUEST_MALFORMED");
    }
    const r = await office.request("POST", "/api/v1/admin/institutions", {
      body: "{not json",
      contentType: "application/json",
    });
    expectCode(r, 400, "REQUEST_MALFORMED");
    await stillAnswering();
  });

  it("answers JSON of the wrong shape with a coded 400", async () => {
    for (const json of [
      null,
      1,
      "x",
      [],
      {},
      { loginId: 1, password: 2 },
      { loginId: "a".repeat(65), password: "x" },
    ]) {
      const r = await receiver.request("POST", "/api/v1/session", { json });
      expectCode(r, 400, "REQUEST_INVALID");
    }
  });

  it("answers other content types with 415 REQUEST_MEDIA_TYPE", async () => {
    for (const contentType of [
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/x-www-form-urlencoded",
      "application/xml",
      "application/jsonx",
    ]) {
      const r = await receiver.request("POST", "/api/v1/session", {
        body: contentType.startsWith("multipart")
          ? '--x\r\nContent-Disposition: form-data; name="loginId"\r\n\r\nR1\r\n--x--\r\n'
          : "loginId=R1&password=x",
        contentType,
      });
      expectCode(r, 415, "REQUEST_MEDIA_TYPE");
    }
    await stillAnswering();
  });

  it("answers a body over maxBodyBytes with 413 REQUEST_TOO_LARGE", async () => {
    const big = `{"mapping":"${"a".repeat(node.ctx.config.maxBodyBytes)}"}`;
    const r = await receiver.request("POST", "/api/v1/session", {
      body: big,
      contentType: "application/json",
    });
    expectCode(r, 413, "REQUEST_TOO_LARGE");
    const r2 = await office.request("POST", "/api/v1/admin/institutions/inst_aaaaaaaaaaaaaaaa/mapping", {
      body: big,
      contentType: "application/json",
    });
    expectCode(r2, 413, "REQUEST_TOO_LARGE");
    await stillAnswering();
  });
});

describe("odd characters in IDs and paths", () => {
  const oddIds = [
    encodeURIComponent("健診機関"),
    "%00",
    "inst_%00aaaaaaaaaaaaaaa",
    encodeURIComponent("inst_😀aaaaaaaaaaaaaa"),
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "a".repeat(4000),
    "%",
    "%zz",
    "inst_AAAAAAAAAAAAAAAA",
    "inst_aaaaaaaaaaaaaaaa", // well-formed, unknown
  ];

  it("answers odd institution IDs in paths with a coded 4xx", async () => {
    for (const id of oddIds) {
      for (const tail of ["account", "certificates", "disable", "mapping"]) {
        const r = await office.post(
          `/api/v1/admin/institutions/${id}/${tail}`,
          tail === "mapping" ? { mapping: "x" } : undefined,
        );
        expectCoded4xx(r);
        // Never the request echoed back; the usual headers on router-level refusals too.
        expect(r.text).not.toContain("/api/v1");
        expect(r.headers["strict-transport-security"]).toBeDefined();
      }
    }
    await stillAnswering();
  });

  it("answers odd login IDs and serials in paths with a coded 4xx", async () => {
    for (const id of oddIds) {
      expectCoded4xx(
        await office.post(`/api/v1/admin/accounts/${id}/password-reset`, {
          requestedBy: "a",
          confirmedHow: "b",
        }),
      );
      expectCoded4xx(await office.post(`/api/v1/admin/certificates/${id}/revoke`, { reason: "x" }));
    }
  });

  it("answers odd login IDs at login with a coded 4xx", async () => {
    for (const loginId of ["健診", "R\u0000", "😀😀😀", "R06131111\n", " R06131111", "", "x".repeat(64)]) {
      const r = await receiver.request("POST", "/api/v1/session", {
        json: { loginId, password: receiverPassword },
      });
      expectCoded4xx(r);
    }
    // The receiver's own session is untouched.
    await stillAnswering();
  });

  it("answers unknown routes and methods with 404 ROUTE_NOT_FOUND", async () => {
    for (const [method, path] of [
      // "/" is the browser UI now; a missing UI asset is a coded 404 like an unknown API route.
      ["GET", "/assets/nope.js"],
      ["GET", "/api"],
      ["GET", "/api/v1/nope"],
      ["GET", `/api/v1/${encodeURIComponent("健診")}`],
      ["GET", "/api/v1/health/%00"],
      ["PUT", "/api/v1/session"],
      ["PATCH", "/api/v1/devices"],
      ["DELETE", "/api/v1/admin/institutions"],
      ["POST", "/api/v1/health"],
    ] as const) {
      expectCode(await receiver.request(method, path, { sign: false }), 404, "ROUTE_NOT_FOUND");
    }
  });

  it("answers bad queries with a coded 400", async () => {
    for (const q of ["limit=abc", "limit=0", "limit=501", "limit=1&limit=2", "x=1", "limit=%00"]) {
      expectCode(await receiver.get(`/api/v1/audit?${q}`), 400, "REQUEST_INVALID");
    }
  });

  it("answers raw bytes the https module would not send (UTF-8, NUL, long targets) with a 4xx", async () => {
    const heads = [
      Buffer.concat([
        Buffer.from("GET /api/v1/"),
        Buffer.from("健診", "utf8"),
        Buffer.from(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      ]),
      Buffer.from("GET /api/v1/health\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "latin1"),
      Buffer.from(`GET /api/v1/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      Buffer.from("BREW /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      Buffer.from(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Kenshin-Device: \u00ff\u0001\r\nConnection: close\r\n\r\n",
        "latin1",
      ),
    ];
    for (const head of heads) {
      const r = await rawRequest(node, "receiver", head);
      expect(r.status, r.body).toBeGreaterThanOrEqual(400);
      expect(r.status, r.body).toBeLessThan(500);
      const body = JSON.parse(r.body) as { resourceType?: unknown };
      expect(body.resourceType, r.body).toBe("OperationOutcome");
    }
    await stillAnswering();
  });
});

describe("arbitrary headers and bodies (fast-check)", () => {
  const headerValue = fc.string({
    unit: fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.constantFrom("v1;", "id=", ";ts=", ";nonce=", ";sig=", "\t"),
    ),
    maxLength: 300,
  });

  it("answers arbitrary X-Kenshin-Device headers with a coded 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        headerValue,
        fc.constantFrom(
          ["/api/v1/account/password", { current: "x", next: "y" }],
          ["/api/v1/admin/institutions", { kind: "receiver", name: "fuzz" }],
          ["/api/v1/devices", { publicKey: { kty: "EC" }, label: "x" }],
        ),
        async (header, [path, json]) => {
          const client = path.startsWith("/api/v1/admin") ? office : receiver;
          const r = await client.request("POST", path, { json, headers: { "x-kenshin-device": header } });
          expectCoded4xx(r);
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 20_000 },
    );
    await stillAnswering();
  });

  it("answers arbitrary cookies and CSRF tokens with a coded 4xx", async () => {
    const probe = node.client("receiver");
    await fc.assert(
      fc.asyncProperty(headerValue, headerValue, async (cookie, csrf) => {
        const get = await probe.request("GET", "/api/v1/session", { headers: { cookie } });
        expectCoded4xx(get);
        const post = await receiver.request("POST", "/api/v1/account/password", {
          json: { current: "x", next: "y" },
          headers: { "x-csrf-token": csrf },
        });
        expectCoded4xx(post);
      }),
      { numRuns: 40, interruptAfterTimeLimit: 20_000 },
    );
    await stillAnswering();
  });

  it("answers arbitrary signed JSON bodies with a coded 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 3 }),
        fc.constantFrom("/api/v1/account/password", "/api/v1/devices", "/api/v1/admin/links"),
        async (json, path) => {
          const client = path.startsWith("/api/v1/admin") ? office : receiver;
          expectCoded4xx(await client.request("POST", path, { json }));
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 20_000 },
    );
    await stillAnswering();
  });

  it("answers arbitrary bytes as a JSON body with a coded 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom("/api/v1/session", "/api/v1/account/password", "/api/v1/admin/institutions"),
        async (bytes, path) => {
          const client = path.startsWith("/api/v1/admin") ? office : receiver;
          const r = await client.request("POST", path, { body: bytes, contentType: "application/json" });
          expectCoded4xx(r);
        },
      ),
      { numRuns: 40, interruptAfterTimeLimit: 20_000 },
    );
    await stillAnswering();
  });
});

describe("afterwards", () => {
  it("still logs in, and the ledger passes fsck", async () => {
    const o = node.account("office");
    expect((await office.login(o.loginId, officePassword)).status).toBe(201);
    await stillAnswering();
    // Checkpoints follow appends on a cadence: once one covers the newest entry, nothing is unsigned.
    await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    expect(fsckDataDir(node)).toMatchObject({ ok: true, unsignedEntries: 0 });
  });
});
