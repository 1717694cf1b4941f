/**
 * Only the sender and the receiver of a transfer can see it or act on it. Another sender (linked to the
 * same receiver), another receiver (linked to the same sender) and the office get, for the transfer and
 * for its file and record hashes, exactly the answer a transfer or hash that never existed gets: same
 * status, same body.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { agreeEnvelopeKey, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { recordHashesOf, sha256Hex } from "../src/format/hash.js";
import type { TransferView } from "../src/service/transfers/view.js";
import {
  convertLocally,
  createLoggedInReceiver,
  createSender,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectCode, expectStatus } from "./support/test-node.js";

let t: TransferNode;
let transfer: TransferView;
let standard: Buffer;
const outsiders: { name: string; client: ApiClient }[] = [];

beforeAll(async () => {
  t = await startTransferNode();
  const otherSender = await createSender(t.node, t.office, {
    name: "よそ健診センター",
    number: "1398765432",
    receiverIds: [t.receiverId],
  });
  const otherReceiver = await createLoggedInReceiver(t.node, t.office, "よそ健康保険組合");
  expectStatus(
    await t.office.post("/api/v1/admin/links", {
      senderId: t.senderId,
      receiverId: otherReceiver.institutionId,
    }),
    204,
  );
  outsiders.push(
    { name: "another sender", client: otherSender.client },
    { name: "another receiver", client: otherReceiver.client },
    { name: "the office", client: t.office },
  );

  const exportBytes = exampleExport();
  standard = (await convertLocally(exportBytes)).bytes;
  const up = await uploadExport(t.sender, t.receiverId, exportBytes);
  expectStatus(up, 201);
  transfer = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
}, 120_000);

afterAll(async () => {
  await t.node.close();
});

/** A well-formed transfer ID that no transfer has. */
function unknownId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  return `tr_${[...randomBytes(16)].map((b) => alphabet[b % 32]).join("")}`;
}

/** What a client can observe of an answer. */
function observed(r: ApiResponse): { status: number; body: string } {
  return { status: r.status, body: r.text };
}

async function download(client: ApiClient, id: string): Promise<ApiResponse> {
  const r = await downloadStandard(client, id);
  if (!("refused" in r)) throw new Error("a download was served");
  return r.refused;
}

/** Every operation on a transfer by ID, as one client. */
const OPERATIONS: readonly [string, (c: ApiClient, id: string) => Promise<ApiResponse>][] = [
  ["detail", (c, id) => c.get(`/api/v1/transfers/${id}`)],
  ["trail", (c, id) => c.get(`/api/v1/transfers/${id}/trail`)],
  ["send", (c, id) => c.post(`/api/v1/transfers/${id}/send`)],
  ["discard", (c, id) => c.post(`/api/v1/transfers/${id}/discard`)],
  ["download", download],
  ["receipt", (c, id) => c.post(`/api/v1/transfers/${id}/receipt`)],
];

describe("a transfer seen from outside", () => {
  it("answers every operation on it exactly as for a transfer that does not exist (404 NOT_FOUND)", async () => {
    for (const { name, client } of outsiders) {
      for (const [op, call] of OPERATIONS) {
        const theirs = await call(client, transfer.id);
        const none = await call(client, unknownId());
        expectCode(theirs, 404, "NOT_FOUND");
        expect({ who: name, op, ...observed(theirs) }).toEqual({ who: name, op, ...observed(none) });
      }
      const list = await client.get("/api/v1/transfers");
      expect(list.status, name).toBe(200);
      expect(list.text).not.toContain(transfer.id);
    }
  });

  it("answers a look-up of its file or record hashes exactly as for a hash nobody has (404 NOT_FOUND)", async () => {
    const hashes = {
      standard: sha256Hex(standard),
      original: transfer.original.sha256,
      record: recordHashesOf(standard)[0] as string,
    };
    for (const { name, client } of outsiders) {
      for (const [what, sha256] of Object.entries(hashes)) {
        const theirs = await client.post("/api/v1/lookup", { sha256 });
        const none = await client.post("/api/v1/lookup", { sha256: randomBytes(32).toString("hex") });
        expectCode(theirs, 404, "NOT_FOUND");
        expect({ who: name, what, ...observed(theirs) }).toEqual({ who: name, what, ...observed(none) });
      }
    }
  });

  it("still serves the sender and the receiver afterwards (nothing the outsiders did changed the transfer)", async () => {
    const detail = await t.sender.get(`/api/v1/transfers/${transfer.id}`);
    expectStatus(detail, 200);
    expect((detail.json as { transfer: TransferView }).transfer.status).toBe("sent");
    expectStatus(await t.receiver.post("/api/v1/lookup", { sha256: sha256Hex(standard) }), 200);
    const down = await downloadStandard(t.receiver, transfer.id);
    if ("refused" in down) throw new Error(down.refused.text);
    expect(Buffer.from(down.bytes).equals(standard)).toBe(true);
    // A download channel the receiver opened cannot be taken by an outsider either.
    const channel = await agreeEnvelopeKey(t.receiver, "download");
    if ("refused" in channel) throw new Error(channel.refused.text);
    const stolen = await (outsiders[0] as { client: ApiClient }).client.request(
      "POST",
      `/api/v1/transfers/${transfer.id}/download`,
      { headers: { "x-kenshin-envelope": channel.channelId } },
    );
    expect(stolen.status).toBeGreaterThanOrEqual(400);
    expect(stolen.status).toBeLessThan(500);
    expect(stolen.bytes.includes(standard.subarray(0, 32))).toBe(false);
  });
});
