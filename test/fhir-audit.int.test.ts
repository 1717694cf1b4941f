/**
 * The FHIR R4 endpoint over real mutual TLS: each operation of a transfer (upload, conversion, 送信確定,
 * download, 受領確定, discard) appears as an AuditEvent with the expected BALP codes, found by the search
 * parameters and paging; a party sees only its own transfers and logins, the office sees everything but
 * never result data, another party gets an empty Bundle and the same 404 as for a missing event; every
 * read is itself recorded; every resource the endpoint answers with validates against the R4 definitions.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import type { AuditEvent } from "../src/fhir/audit-event.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import { confidentialityOf } from "../src/fhir/security-labels.js";
import { SYSTEM } from "../src/fhir/systems.js";
import { openCheckpoint } from "../src/ledger/verify/checkpoint.js";
import { fromHex, toHex } from "../src/ledger/verify/encoding.js";
import { rfc6962Hasher } from "../src/ledger/verify/hash.js";
import { verifyInclusion } from "../src/ledger/verify/inclusion.js";
import { parseVerifierKey } from "../src/ledger/verify/verifier-key.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { expectCode, expectStatus, ledgerRecords, type TestNode } from "./support/test-node.js";
import {
  createLoggedInReceiver,
  exampleExport,
  exportValues,
  found,
  needlesOf,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";

let t: TransferNode;
let node: TestNode;
let sender: ApiClient;
let receiver: ApiClient;
let stranger: ApiClient;
let sent: TransferView;
let discarded: TransferView;

type Bundle = SearchsetBundle<AuditEvent>;

/** A FHIR answer: the right media type and 0 validation errors. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the resource type it expects
function fhir<T = unknown>(r: ApiResponse, status = 200): T {
  expect(r.status, r.text).toBe(status);
  expect(r.headers["content-type"]).toBe("application/fhir+json; charset=utf-8");
  expectValidFhir(r.json);
  return r.json as T;
}

const eventsOf = (b: Bundle): AuditEvent[] => (b.entry ?? []).map((e) => e.resource);
const path = (url: string): string => url.slice(url.indexOf("/fhir/"));

async function searchAll(client: ApiClient, query: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let next: string | undefined = `/fhir/AuditEvent?${query}`;
  for (let pages = 0; next !== undefined && pages < 50; pages++) {
    const bundle: Bundle = fhir<Bundle>(await client.get(next));
    out.push(...eventsOf(bundle));
    const link = bundle.link.find((l) => l.relation === "next");
    next = link === undefined ? undefined : path(link.url);
  }
  return out;
}

const codesOf = (e: AuditEvent) => [
  e.type.code,
  e.subtype?.map((s) => s.code).join("+"),
  e.action,
  e.outcome,
];
const entityIds = (e: AuditEvent) => (e.entity ?? []).map((x) => x.what?.identifier?.value);

beforeAll(async () => {
  t = await startTransferNode();
  ({ node, sender, receiver } = t);
  stranger = (await createLoggedInReceiver(node, t.office, "無関係の保険者")).client;
  const up = await uploadExport(sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  sent = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await sender.post(`/api/v1/transfers/${sent.id}/send`), 200);
  const down = await downloadStandard(receiver, sent.id);
  expect("bytes" in down).toBe(true);
  expectStatus(await receiver.post(`/api/v1/transfers/${sent.id}/receipt`), 200);
  const up2 = await uploadExport(sender, t.receiverId, exampleExport());
  expectStatus(up2, 201);
  discarded = (up2.json as { transfer: TransferView }).transfer;
  expectStatus(await sender.post(`/api/v1/transfers/${discarded.id}/discard`), 200);
}, 180_000);

afterAll(async () => {
  await node.close();
});

describe("FHIR endpoint: AuditEvents of a transfer", () => {
  it("GET /fhir/metadata is a CapabilityStatement with its security section", async () => {
    const cs = fhir<{
      resourceType: string;
      rest: { security: { service: { coding: { code: string }[] }[] } }[];
    }>(await sender.get("/fhir/metadata"));
    expect(cs.resourceType).toBe("CapabilityStatement");
    expect(cs.rest[0]?.security.service[0]?.coding[0]?.code).toBe("Certificates");
  });

  it("each operation of the transfer has its AuditEvent with the expected type / subtype / action / outcome", async () => {
    const events = await searchAll(sender, `entity=${sent.id}`);
    const codes = events.map(codesOf).reverse(); // oldest first
    expect(codes).toEqual([
      ["rest", "create", "C", "0"], // upload
      ["rest", "operation+convert", "E", "0"], // conversion
      ["110106", "disclose", "U", "0"], // 送信確定
      ["rest", "create+seal", "C", "0"], // the node's seal (JWS + RFC 3161 token)
      ["110106", "disclose", "R", "0"], // download
      ["110107", "disclose", "C", "0"], // 受領確定
    ]);
    const [upload, conversion, send, , download, receipt] = events.slice().reverse();
    expect(entityIds(upload as AuditEvent)).toContain(sent.original.sha256);
    expect(entityIds(conversion as AuditEvent)).toContain(sent.standard?.sha256);
    for (const e of [send, download, receipt])
      expect(entityIds(e as AuditEvent)).toContain(sent.standard?.sha256);
    // The user agent: login ID, network address, certificate; requestor.
    const agent = (download as AuditEvent).agent[0];
    expect(agent?.who.identifier?.system).toBe(SYSTEM.loginId);
    expect(agent?.who.identifier?.value).toBe(node.account("receiver").loginId);
    expect(agent?.network).toEqual({ address: "127.0.0.1", type: "2" });
    expect(agent?.altId).toMatch(/[0-9a-f]{64}$/);
    // Provable: the ledger entity names the entry whose leaf hash is the id.
    const ledger = (download as AuditEvent).entity?.find(
      (x) => x.what?.identifier?.system === SYSTEM.ledgerEntry,
    );
    expect(ledger?.detail).toContainEqual({ type: "leafHash", valueString: download?.id });

    const deletion = await searchAll(sender, `entity=${discarded.id}&type=rest&subtype=delete`);
    expect(deletion.map(codesOf)).toEqual([["rest", "delete", "D", "0"]]);
  });

  it("each AuditEvent is provable against the signed checkpoint: its ledger index and leaf hash, the entry's bytes, an inclusion proof", async () => {
    const events = await searchAll(receiver, `entity=${sent.id}`);
    expect(events.length).toBeGreaterThanOrEqual(5);
    const entryOf = (e: AuditEvent) => {
      const ledger = e.entity?.find((x) => x.what?.identifier?.system === SYSTEM.ledgerEntry);
      return {
        index: Number(ledger?.what?.identifier?.value),
        leafHash: ledger?.detail?.find((d) => d.type === "leafHash")?.valueString ?? "",
      };
    };
    const last = Math.max(...events.map((e) => entryOf(e).index));
    // Checkpoints come on a cadence: wait (bounded) for one that covers these entries.
    const note = await vi.waitFor(
      () => {
        const cp = node.ctx.ledger.latestCheckpoint();
        if (cp.size <= last) throw new Error(`checkpoint ${cp.size} does not cover ${last} yet`);
        return cp.note;
      },
      { timeout: 15_000, interval: 50 },
    );
    const key = parseVerifierKey(readFileSync(node.ctx.paths.ledgerVerifierKey, "utf8").trim());
    const { checkpoint } = openCheckpoint(note, key);
    for (const e of events) {
      const { index, leafHash } = entryOf(e);
      expect(leafHash).toBe(e.id);
      // The entry's own bytes hash to that leaf (RFC 9162: SHA-256(0x00 ‖ entry))…
      expect(toHex(rfc6962Hasher.hashLeaf(node.ctx.ledger.entry(index)))).toBe(leafHash);
      // …and the leaf is in the tree the signed checkpoint commits to.
      const proof = node.ctx.ledger.inclusionProof(index, checkpoint.size);
      const claim = {
        index,
        size: checkpoint.size,
        leafHash: fromHex(leafHash),
        proof: proof.proof.map((p) => fromHex(p)),
        root: checkpoint.root,
      };
      expect(() => {
        verifyInclusion(claim);
      }).not.toThrow();
      // A different leaf hash under the same proof does not verify.
      const other = fromHex(leafHash);
      other[0] = (other[0] ?? 0) ^ 1;
      expect(() => {
        verifyInclusion({ ...claim, leafHash: other });
      }).toThrow();
    }
  });

  it("GET /fhir/AuditEvent/{id} reads one event; an invisible one is the same 404 as a missing one", async () => {
    const [latest] = await searchAll(sender, `entity=${sent.id}&_count=1`);
    const read = fhir<AuditEvent>(await sender.get(`/fhir/AuditEvent/${latest?.id ?? ""}`));
    expect(read).toEqual(latest);
    const hidden = await stranger.get(`/fhir/AuditEvent/${latest?.id ?? ""}`);
    const missing = await stranger.get(`/fhir/AuditEvent/${"0".repeat(64)}`);
    expectCode(hidden, 404, "NOT_FOUND");
    expect(hidden.text).toBe(missing.text);
    expectValidFhir(hidden.json);
  });

  it("search parameters: type, subtype, agent, outcome, date, and paging with _count", async () => {
    const logins = await searchAll(
      sender,
      "type=http://dicom.nema.org/resources/ontology/DCM|110114&subtype=110122",
    );
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((e) => e.type.code === "110114" && e.subtype?.[0]?.code === "110122")).toBe(true);

    const mine = await searchAll(sender, `agent=${node.account("sender").loginId}`);
    expect(
      mine.every((e) => e.agent.some((a) => a.who.identifier?.value === node.account("sender").loginId)),
    ).toBe(true);

    // A failed login (wrong password) is outcome 8 and labelled R: the office (cleared for R) finds it;
    // the sender's staff (cleared for N) do not, though it is their own account's (Z4).
    const other = node.client("sender");
    expect((await other.login(node.account("sender").loginId, "wrong-password-1")).status).toBe(401);
    const failures = await searchAll(t.office, `outcome=8&agent=${node.account("sender").loginId}`);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((e) => e.outcome === "8" && confidentialityOf(e.meta.security) === "R")).toBe(true);
    expect(await searchAll(sender, "outcome=8")).toEqual([]);
    expectCode(await sender.get(`/fhir/AuditEvent/${failures[0]?.id ?? ""}`), 404, "NOT_FOUND");
    // The same rule on the API's audit list: the failed login is in the office's, not in the sender's.
    type AuditList = { entries: { entry: { type: string; outcome: string; actor: { id: string } } }[] };
    const failedLogin = (l: AuditList) =>
      l.entries.filter(
        (x) =>
          x.entry.type === "login" &&
          x.entry.outcome !== "success" &&
          x.entry.actor.id === node.account("sender").loginId,
      );
    const officeList = await t.office.get("/api/v1/audit?limit=500");
    expect(failedLogin(officeList.json as AuditList).length).toBeGreaterThan(0);
    const senderList = await sender.get("/api/v1/audit?limit=500");
    expect(senderList.status).toBe(200);
    expect((senderList.json as AuditList).entries.length).toBeGreaterThan(0);
    expect(failedLogin(senderList.json as AuditList)).toEqual([]);

    const all = await searchAll(sender, "_count=100");
    const paged = await searchAll(sender, "_count=2");
    // The paged walk sees the same events (plus the audit reads it made itself, newest first).
    const ids = new Set(paged.map((e) => e.id));
    expect(all.filter((e) => e.type.code !== "110101").every((e) => ids.has(e.id))).toBe(true);

    const first = all.at(-1) as AuditEvent;
    const from = first.recorded;
    const after = await searchAll(sender, `date=gt${encodeURIComponent(from)}&_count=100`);
    expect(after.every((e) => e.recorded > from)).toBe(true);
    expect(after.some((e) => e.id === first.id)).toBe(false);
    const day = from.slice(0, 10);
    expect((await searchAll(sender, `date=lt${day}&date=gt${day}`)).length).toBe(0);
  });

  it("POST _search takes the parameters in a form body (out of URLs), CSRF-checked", async () => {
    const r = await sender.request("POST", "/fhir/AuditEvent/_search", {
      body: `entity=${sent.id}&_count=5`,
      contentType: "application/x-www-form-urlencoded",
    });
    const bundle = fhir<Bundle>(r);
    expect(eventsOf(bundle).length).toBe(5);
    const noCsrf = await sender.request("POST", "/fhir/AuditEvent/_search", {
      body: `entity=${sent.id}`,
      contentType: "application/x-www-form-urlencoded",
      csrf: false,
    });
    expectCode(noCsrf, 403, "AUTH_CSRF_INVALID");
  });

  it("bad searches are coded OperationOutcomes, never ignored", async () => {
    for (const q of [
      "name=x",
      "_count=0",
      "_count=101",
      "date=2026-13-40",
      "outcome=3",
      "_before=-1",
      "_format=xml",
    ]) {
      const r = await sender.get(`/fhir/AuditEvent?${q}`);
      expect(r.status, q).toBeGreaterThanOrEqual(400);
      expect(r.status, q).toBeLessThan(500);
      expectValidFhir(r.json);
    }
    expectCode(await sender.get("/fhir/Patient"), 404, "ROUTE_NOT_FOUND");
  });
});

describe("FHIR endpoint: who sees what", () => {
  it("the receiver sees the transfer's events; another receiver sees none of them", async () => {
    expect((await searchAll(receiver, `entity=${sent.id}`)).length).toBeGreaterThanOrEqual(5);
    // The discarded transfer was never sent: the receiver sees nothing of it.
    expect(await searchAll(receiver, `entity=${discarded.id}`)).toEqual([]);
    const empty = fhir<Bundle>(await stranger.get(`/fhir/AuditEvent?entity=${sent.id}`));
    expect(empty.entry).toBeUndefined();
    // The stranger's own search sees only its own institution's entries.
    const own = await searchAll(stranger, "_count=100");
    expect(own.length).toBeGreaterThan(0);
    const senderLogin = node.account("sender").loginId;
    expect(own.some((e) => e.agent.some((a) => a.who.identifier?.value === senderLogin))).toBe(false);
  });

  it("the office sees every event, and no result data is in any of them", async () => {
    const office = await searchAll(t.office, "_count=100");
    expect(office.length).toBeGreaterThan(20);
    const text = Buffer.from(JSON.stringify(office), "utf8");
    expect(found(text, needlesOf(exportValues()))).toEqual([]);
  });

  it("no session: 401; and every read above is itself on the ledger", async () => {
    const anonymous = node.client("sender");
    expectCode(await anonymous.get("/fhir/AuditEvent"), 401, "AUTH_REQUIRED");
    const queries = ledgerRecords(node.ctx).filter(
      (r) => r.type === "audit-query" && r.query.startsWith("fhir AuditEvent"),
    );
    expect(queries.length).toBeGreaterThan(10);
    expect(queries.some((r) => r.type === "audit-query" && r.outcome === "minor-failure")).toBe(true);
  });
});

describe("kenshin audit export", () => {
  const CLI = join(process.cwd(), "dist/cli/main.js");
  const kenshin = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, KENSHIN_DEBUG: "" },
    });
  const today = new Date(Date.now() + 9 * 3_600_000).toISOString().slice(0, 10);

  it("--format fhir: NDJSON of AuditEvents, each valid, covering the transfer; the export is recorded", () => {
    const out = join(node.dir, "audit.ndjson");
    const r = kenshin(
      "audit",
      "export",
      "--data",
      node.dir,
      "--from",
      today,
      "--to",
      today,
      "--format",
      "fhir",
      "--out",
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    const events = readFileSync(out, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(events.length).toBeGreaterThan(20);
    for (const e of events) expectValidFhir(e);
    expect(events.some((e) => entityIds(e).includes(sent.id) && e.type.code === "110106")).toBe(true);
    expect(found(readFileSync(out), needlesOf(exportValues()))).toEqual([]);
    const last = ledgerRecords(node.ctx).at(-1);
    expect(last?.type === "audit-query" && last.query.startsWith("export fhir")).toBe(true);
    // Never overwrites an earlier export.
    expect(
      kenshin("audit", "export", "--data", node.dir, "--from", today, "--to", today, "--out", out).status,
    ).toBe(2);
  });

  it("--format jahis: one XML document that xmllint validates against the RFC 3881 schema", () => {
    const out = join(node.dir, "audit.xml");
    const r = kenshin(
      "audit",
      "export",
      "--data",
      node.dir,
      "--from",
      today,
      "--to",
      today,
      "--format",
      "jahis",
      "--out",
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    const lint = spawnSync("xmllint", ["--noout", "--schema", "schema/audit-messages.xsd", out], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(lint.stderr).toContain("validates");
    expect(lint.status).toBe(0);
    expect(readFileSync(out, "utf8")).toContain(`ParticipantObjectID="${sent.id}"`);
  });

  it("a range before the node existed is empty; a malformed date is exit 2 with a code", () => {
    const r = kenshin("audit", "export", "--data", node.dir, "--from", "2001-01-01", "--to", "2001-01-31");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    const bad = kenshin("audit", "export", "--data", node.dir, "--from", "yesterday", "--to", today);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("FHIR_SEARCH_INVALID");
  });
});
