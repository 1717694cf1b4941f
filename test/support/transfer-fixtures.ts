/**
 * Fixtures for the transfer integration tests: a test node with its office, sender and receiver logged
 * in; more institutions made by the office through the API; the local conversion the service must
 * reproduce byte for byte; the example export's known values as the bytes a proxy or a disk would hold;
 * a byte scan of the service database files.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import iconv from "iconv-lite";
import { expect } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import { convert, type ConvertSummary } from "../../src/convert/engine.js";
import { prepareMapping } from "../../src/convert/convert-file.js";
import { splitCsvLines } from "../../src/format/record-split.js";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import type { ServiceContext } from "../../src/service/context.js";
import {
  EXAMPLE_DIR,
  createReceiver,
  expectStatus,
  firstLogin,
  ledgerRecords,
  startTestNode,
  type TestNode,
} from "./test-node.js";

export const EXPORT_PATH = join(EXAMPLE_DIR, "export.csv");
export const MAPPING_PATH = join(EXAMPLE_DIR, "mapping.yaml");
/** The demo sender's institution number, as written in the example mapping. */
const EXAMPLE_INSTITUTION_NUMBER = "1312345678";

export function exampleExport(): Buffer {
  return readFileSync(EXPORT_PATH);
}

export interface TransferNode {
  readonly node: TestNode;
  readonly office: ApiClient;
  readonly sender: ApiClient;
  readonly receiver: ApiClient;
  readonly senderId: string;
  readonly receiverId: string;
}

/** The institution ID behind a logged-in client. */
export async function institutionOf(client: ApiClient): Promise<string> {
  const session = await client.get("/api/v1/session");
  expect(session.status).toBe(200);
  return (session.json as { institution: { id: string } }).institution.id;
}

/** A test node with the demo office, sender and receiver through their first login. */
export async function startTransferNode(
  options: Parameters<typeof startTestNode>[0] = {},
): Promise<TransferNode> {
  const node = await startTestNode(options);
  try {
    const office = node.client("office");
    const sender = node.client("sender");
    const receiver = node.client("receiver");
    for (const [client, role] of [
      [office, "office"],
      [sender, "sender"],
      [receiver, "receiver"],
    ] as const) {
      const a = node.account(role);
      await firstLogin(client, a.loginId, a.password);
    }
    return {
      node,
      office,
      sender,
      receiver,
      senderId: await institutionOf(sender),
      receiverId: await institutionOf(receiver),
    };
  } catch (error) {
    await node.close();
    throw error;
  }
}

/**
 * Another sender made by the office through the API: institution, the example mapping (with this
 * sender's number), ID, certificate and links to the given receivers; logged in.
 */
export async function createSender(
  node: TestNode,
  office: ApiClient,
  o: { name: string; number: string; receiverIds: readonly string[] },
): Promise<{ client: ApiClient; institutionId: string }> {
  const inst = await office.post("/api/v1/admin/institutions", {
    kind: "sender",
    name: o.name,
    number: o.number,
  });
  expect(inst.status).toBe(201);
  const institutionId = (inst.json as { id: string }).id;
  const mapping = readFileSync(MAPPING_PATH, "utf8").replaceAll(EXAMPLE_INSTITUTION_NUMBER, o.number);
  expect((await office.post(`/api/v1/admin/institutions/${institutionId}/mapping`, { mapping })).status).toBe(
    201,
  );
  const account = await office.post(`/api/v1/admin/institutions/${institutionId}/account`);
  expect(account.status).toBe(201);
  const cert = await office.post(`/api/v1/admin/institutions/${institutionId}/certificates`);
  expect(cert.status).toBe(201);
  for (const receiverId of o.receiverIds) {
    expectStatus(await office.post("/api/v1/admin/links", { senderId: institutionId, receiverId }), 204);
  }
  const a = account.json as { loginId: string; temporaryPassword: string };
  const c = cert.json as { certPem: string; keyPem: string };
  const client = node.clientWith({ certPem: c.certPem, keyPem: c.keyPem });
  await firstLogin(client, a.loginId, a.temporaryPassword);
  return { client, institutionId };
}

/** Another receiver (linked to nobody) made by the office through the API; logged in. */
export async function createLoggedInReceiver(
  node: TestNode,
  office: ApiClient,
  name: string,
): Promise<{ client: ApiClient; institutionId: string }> {
  const r = await createReceiver(office, name);
  const client = node.clientWith({ certPem: r.certPem, keyPem: r.keyPem });
  await firstLogin(client, r.loginId, r.temporaryPassword);
  return { client, institutionId: r.institutionId };
}

/** The example export converted here, with the example mapping, in UTF-8 (what the service stores). */
export async function convertLocally(
  exportBytes: Uint8Array,
): Promise<{ bytes: Buffer; summary: ConvertSummary }> {
  const prepared = await prepareMapping({ mappingPath: MAPPING_PATH });
  const parts: Uint8Array[] = [];
  const summary = await convert(
    [exportBytes],
    { write: (c) => void parts.push(Uint8Array.from(c)) },
    { checked: prepared.checked, encoding: "utf-8" },
  );
  return { bytes: Buffer.concat(parts), summary };
}

/** Examinee IDs, names, kana and ticket numbers of the example export (decoded from CP932). */
export function exportValues(exportBytes: Uint8Array = exampleExport()): string[] {
  const values: string[] = [];
  for (const line of iconv.decode(Buffer.from(exportBytes), "cp932").split(/\r?\n/)) {
    const cells = line.split(",");
    if (!/^K\d{6}$/.test(cells[1] ?? "")) continue;
    for (const i of [1, 2, 3, 10]) {
      const v = cells[i] ?? "";
      if (v.length >= 3) values.push(v);
    }
  }
  return values;
}

/** A value to look for, as the bytes it would have on the wire or on disk. */
export interface Needle {
  readonly label: string;
  readonly bytes: Buffer;
}

/** Each value in CP932 (the export's encoding) and UTF-8 (the standard CSV's). */
export function needlesOf(values: readonly string[]): Needle[] {
  const out = new Map<string, Needle>();
  for (const v of values) {
    for (const [enc, bytes] of [
      ["cp932", iconv.encode(v, "cp932")],
      ["utf-8", Buffer.from(v, "utf8")],
    ] as const) {
      out.set(bytes.toString("hex"), { label: `${enc} ${JSON.stringify(v)}`, bytes });
    }
  }
  return [...out.values()];
}

/** The record lines of a standard CSV (the header row left out), without their CRLF. */
export function recordLines(standard: Uint8Array): Buffer[] {
  return splitCsvLines(standard)
    .slice(1)
    .map((s) => Buffer.from(standard.subarray(s.start, s.end)));
}

/** The labels of the needles found in the bytes. */
export function found(haystack: Uint8Array, needles: readonly Needle[]): string[] {
  const hay = Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength);
  return needles.filter((n) => hay.includes(n.bytes)).map((n) => n.label);
}

/** The service database's files as they are on disk (database, WAL, shared memory), where they exist. */
export const SERVICE_DB_FILES = ["service.db", "service.db-wal", "service.db-shm"] as const;

/** `file: label` for every needle found in any of the service database's files. */
export function foundInServiceDb(dir: string, needles: readonly Needle[]): string[] {
  const hits: string[] = [];
  for (const name of SERVICE_DB_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    for (const label of found(readFileSync(path), needles)) hits.push(`${name}: ${label}`);
  }
  return hits;
}

/** Ledger entries from `from` on (e.g. the size before a step). */
export function entriesSince(ctx: ServiceContext, from: number): OperationRecord[] {
  return ledgerRecords(ctx).slice(from);
}

/** The denial entries among records. */
export function denials(records: readonly OperationRecord[]): Extract<OperationRecord, { type: "denial" }>[] {
  return records.filter((r): r is Extract<OperationRecord, { type: "denial" }> => r.type === "denial");
}
