/**
 * The office's (事務局) tools end to end through the HTTPS API: institutions, a sender's ID only after
 * its mapping (validated with a test conversion of the example export), IDs and certificates (the
 * PKCS#12 works as issued), links, the inventory, a password reset on record, disabling. And what the
 * office and the institutions may not do: non-admins get AUTH_FORBIDDEN, and nothing the office
 * receives contains a value from the sample export.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { OPERATIONS } from "../src/server/operations/operations.js";
import {
  EXAMPLE_DIR,
  expectCode,
  expectStatus,
  firstLogin,
  fsckDataDir,
  ledgerRecords,
  reach,
  startTestNode,
  type TestNode,
} from "./support/test-node.js";

let node: TestNode;
let office: ApiClient;
/** Every answer the office received in this file. */
const officeSaw: string[] = [];

const SENDER_NUMBER = "1399999999";
const sample = readFileSync(join(EXAMPLE_DIR, "export.csv"));
const mappingText = readFileSync(join(EXAMPLE_DIR, "mapping.yaml"), "utf8").replaceAll(
  "1312345678",
  SENDER_NUMBER,
);

/** Values of the example export that must never reach the office: IDs, names, kana, ticket numbers. */
function exportValues(): string[] {
  const values: string[] = [];
  for (const line of iconv.decode(sample, "cp932").split(/\r?\n/)) {
    const cells = line.split(",");
    if (!/^K\d{6}$/.test(cells[1] ?? "")) continue;
    for (const i of [1, 2, 3, 10]) {
      const v = cells[i] ?? "";
      if (v.length >= 3) values.push(v);
    }
  }
  return values;
}

async function asOffice(method: "GET" | "POST", path: string, body?: unknown): Promise<ApiResponse> {
  const r = await office.request(method, path, body === undefined ? {} : { json: body });
  officeSaw.push(r.text);
  return r;
}

beforeAll(async () => {
  node = await startTestNode();
  office = node.client("office");
});

afterAll(async () => {
  await node.close();
});

describe("office flow", () => {
  let senderId = "";
  let receiverId = "";
  let senderLogin = "";
  let senderClient: ApiClient;
  let senderPassword = "";

  it("needs the temporary password changed before any office tool", async () => {
    const a = node.account("office");
    office.setDeviceKey(undefined);
    expect((await office.login(a.loginId, a.password)).status).toBe(201);
    expectCode(await asOffice("GET", "/api/v1/admin/institutions"), 403, "AUTH_PASSWORD_CHANGE_REQUIRED");
    await office.logout();
    await firstLogin(office, a.loginId, a.password);
    expect((await asOffice("GET", "/api/v1/admin/institutions")).status).toBe(200);
  });

  it("creates a sender and a receiver; refuses invalid and duplicate ones", async () => {
    const s = await asOffice("POST", "/api/v1/admin/institutions", {
      kind: "sender",
      name: "テスト健診センター",
      number: SENDER_NUMBER,
    });
    expect(s.status).toBe(201);
    senderId = (s.json as { id: string }).id;
    const r = await asOffice("POST", "/api/v1/admin/institutions", {
      kind: "receiver",
      name: "テスト健康保険組合",
      number: "06139999",
    });
    expect(r.status).toBe(201);
    receiverId = (r.json as { id: string }).id;
    expectCode(
      await asOffice("POST", "/api/v1/admin/institutions", {
        kind: "sender",
        name: "番号違い",
        number: "123",
      }),
      400,
      "INSTITUTION_INVALID",
    );
    expectCode(
      await asOffice("POST", "/api/v1/admin/institutions", {
        kind: "sender",
        name: "重複",
        number: SENDER_NUMBER,
      }),
      409,
      "INSTITUTION_EXISTS",
    );
  });

  it("refuses a sender's ID before a mapping is registered (409 MAPPING_REQUIRED)", async () => {
    expectCode(
      await asOffice("POST", `/api/v1/admin/institutions/${senderId}/account`),
      409,
      "MAPPING_REQUIRED",
    );
  });

  it("registers the example mapping with the sample export as a test conversion (counts only)", async () => {
    const expected = JSON.parse(readFileSync(join(EXAMPLE_DIR, "expected", "report.json"), "utf8")) as {
      counts: Record<string, number>;
      issueCounts: Record<string, unknown>;
    };
    const r = await asOffice("POST", `/api/v1/admin/institutions/${senderId}/mapping`, {
      mapping: mappingText,
      sample: sample.toString("base64"),
    });
    expect(r.status).toBe(201);
    const report = (r.json as { sampleReport: { counts: unknown; issueCounts: unknown } }).sampleReport;
    expect(report.counts).toEqual(expected.counts);
    expect(report.issueCounts).toEqual(expected.issueCounts);
    expectCode(
      await asOffice("POST", `/api/v1/admin/institutions/${senderId}/mapping`, { mapping: "format: nope\n" }),
      422,
      "MAPPING_INVALID",
    );
    expectCode(
      await asOffice("POST", `/api/v1/admin/institutions/${receiverId}/mapping`, { mapping: mappingText }),
      422,
      "MAPPING_INVALID",
    );
  });

  it("issues the sender's ID and a certificate whose PKCS#12 logs in", async () => {
    const a = await asOffice("POST", `/api/v1/admin/institutions/${senderId}/account`);
    expect(a.status).toBe(201);
    const account = a.json as { loginId: string; temporaryPassword: string };
    senderLogin = account.loginId;
    expectCode(
      await asOffice("POST", `/api/v1/admin/institutions/${senderId}/account`),
      409,
      "ACCOUNT_EXISTS",
    );
    const c = await asOffice("POST", `/api/v1/admin/institutions/${senderId}/certificates`);
    expect(c.status).toBe(201);
    const cert = c.json as { pkcs12: string; pkcs12Password: string; loginId: string };
    expect(cert.loginId).toBe(senderLogin);
    senderClient = node.clientWith({
      pfx: Buffer.from(cert.pkcs12, "base64"),
      passphrase: cert.pkcs12Password,
    });
    senderPassword = (await firstLogin(senderClient, senderLogin, account.temporaryPassword)).password;
    const session = await senderClient.get("/api/v1/session");
    expect(session.json).toMatchObject({
      loginId: senderLogin,
      role: "sender",
      institution: { id: senderId },
    });
  });

  it("links the sender to the receiver (and only that way round)", async () => {
    expectStatus(await asOffice("POST", "/api/v1/admin/links", { senderId, receiverId }), 204);
    expectCode(
      await asOffice("POST", "/api/v1/admin/links", { senderId: receiverId, receiverId: senderId }),
      400,
      "LINK_INVALID",
    );
  });

  it("lists every ID in the inventory CSV", async () => {
    const r = await asOffice("GET", "/api/v1/admin/inventory.csv");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    const lines = r.text
      .replace(/^\uFEFF/, "")
      .trim()
      .split("\r\n");
    expect(lines[0]).toMatch(
      /^利用者ID,種別,機関名,状態,最終ログイン,証明書有効期限,変換件数\(\d{4}-\d\d\),変換件数\(\d{4}-\d\d\)$/,
    );
    const ids = lines.slice(1).map((l) => l.split(",")[0]);
    for (const a of node.demo.accounts) expect(ids).toContain(a.loginId);
    const sender = lines.find((l) => l.startsWith(`${senderLogin},`));
    expect(sender).toMatch(/,健診機関,.*,利用可,\d{4}-\d\d-\d\dT[^,]+,\d{4}-\d\d-\d\dT/);
  });

  it("resets a password only with who asked and how it was confirmed, and records both", async () => {
    const path = `/api/v1/admin/accounts/${senderLogin}/password-reset`;
    expectCode(await asOffice("POST", path, {}), 400, "REQUEST_INVALID");
    expectCode(await asOffice("POST", path, { requestedBy: "山田 (受付)" }), 400, "REQUEST_INVALID");
    const r = await asOffice("POST", path, {
      requestedBy: "山田 (受付)",
      confirmedHow: "登録番号へ折り返し電話",
    });
    expect(r.status).toBe(201);
    const temporary = (r.json as { temporaryPassword: string }).temporaryPassword;
    const row = node.ctx.db
      .prepare("SELECT requested_by, confirmed_how, office_login_id FROM password_resets WHERE login_id = ?")
      .get(senderLogin);
    expect(row).toEqual({
      requested_by: "山田 (受付)",
      confirmed_how: "登録番号へ折り返し電話",
      office_login_id: node.account("office").loginId,
    });
    const entry = ledgerRecords(node.ctx).findLast(
      (e) => e.type === "admin" && e.action === "password.reset",
    );
    expect(entry).toMatchObject({ actor: { id: node.account("office").loginId, role: "admin" } });
    // The sender's session ended; the old password no longer works; the new one must be changed.
    expectCode(await senderClient.get("/api/v1/session"), 401, "AUTH_REQUIRED");
    expectCode(await senderClient.login(senderLogin, senderPassword), 401, "AUTH_FAILED");
    const login = await senderClient.login(senderLogin, temporary);
    expect(login.json).toMatchObject({ mustChangePassword: true });
  });

  it("disables an institution: its certificate is refused at the handshake, so is its login", async () => {
    const r = await asOffice("POST", `/api/v1/admin/institutions/${senderId}/disable`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: senderId, status: "disabled" });
    expect(String(await reach(senderClient))).toMatch(/^(ECONNRESET|EPIPE|EPROTO|ERR_SSL_)/);
    await expect(senderClient.login(senderLogin, senderPassword)).rejects.toThrow();
    const inventory = await asOffice("GET", "/api/v1/admin/inventory.csv");
    expect(inventory.text).toMatch(new RegExp(`${senderLogin},健診機関,[^,]*,利用不可,`));
    const certs = await asOffice("GET", "/api/v1/admin/certificates");
    const mine = (
      certs.json as { certificates: { institutionId: string; revokedAt: string | null }[] }
    ).certificates.filter((c) => c.institutionId === senderId);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((c) => c.revokedAt !== null)).toBe(true);
  });
});

describe("metadata only", () => {
  it("refuses every office tool to a sender and a receiver (403 AUTH_FORBIDDEN)", async () => {
    for (const role of ["sender", "receiver"] as const) {
      const a = node.account(role);
      const client = node.client(role);
      await firstLogin(client, a.loginId, a.password);
      for (const op of OPERATIONS.filter((o) => o.role === "admin")) {
        const path = op.path
          .replace("{id}", "inst_aaaaaaaaaaaaaaaa")
          .replace("{serial}", "0a0b")
          .replace("{loginId}", a.loginId);
        const r = await client.request(
          op.method.toUpperCase(),
          path,
          op.method === "get" ? {} : { json: {} },
        );
        expectCode(r, 403, "AUTH_FORBIDDEN");
      }
      // The audit trail they can read is their own institution's.
      const audit = await client.get("/api/v1/audit?limit=500");
      const institution = ((await client.get("/api/v1/session")).json as { institution: { id: string } })
        .institution.id;
      const entries = (audit.json as { entries: { entry: { institution: string } }[] }).entries;
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.every((e) => e.entry.institution === institution)).toBe(true);
    }
  });

  it("never shows the office a value from the sample export", async () => {
    const audit = await asOffice("GET", "/api/v1/audit?limit=500");
    expect(audit.status).toBe(200);
    await asOffice("GET", "/api/v1/admin/institutions");
    await asOffice("GET", "/api/v1/admin/certificates");
    const values = exportValues();
    expect(values.length).toBeGreaterThanOrEqual(30);
    expect(values).toContain("健診 太郎");
    const everything = officeSaw.join("\n");
    expect(officeSaw.length).toBeGreaterThan(20);
    for (const v of values) expect(everything, v).not.toContain(v);
    // Nor does the ledger hold any.
    const ledger = ledgerRecords(node.ctx)
      .map((e) => JSON.stringify(e))
      .join("\n");
    for (const v of values) expect(ledger, v).not.toContain(v);
  });

  it("leaves a ledger that passes fsck, with the office's actions in it", async () => {
    // Checkpoints follow appends on a cadence: once one covers the newest entry, nothing is unsigned.
    await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    expect(fsckDataDir(node)).toMatchObject({ ok: true, unsignedEntries: 0 });
    const actions = new Set(ledgerRecords(node.ctx).flatMap((e) => (e.type === "admin" ? [e.action] : [])));
    for (const a of [
      "institution.create",
      "mapping.update",
      "account.create",
      "certificate.issue",
      "institution.update",
      "password.reset",
      "account.disable",
      "certificate.revoke",
    ]) {
      expect(actions).toContain(a);
    }
  });
});
