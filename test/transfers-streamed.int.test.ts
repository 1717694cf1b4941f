/**
 * Streamed uploads over real HTTPS: an export of several MB is sealed chunk by chunk from a file and
 * sent as a stream; the server opens, converts and spools it as it arrives, and the receiver's download
 * (also streamed) is exactly a local conversion. A broken upload (the connection cut mid-body) and an
 * upload whose device signature does not cover the body that arrived leave no trace: no transfer, no
 * payload, no spool file — and a denial entry.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealEnvelope } from "../src/client/envelope.js";
import { agreeEnvelopeKey, downloadStandard, uploadExportFile } from "../src/client/transfer-client.js";
import { sha256Hex } from "../src/format/hash.js";
import { spoolDir } from "../src/service/transfers/upload-stream.js";
import {
  convertLocally,
  denials,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectCode, expectStatus, fsckDataDir, reach } from "./support/test-node.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";

let t: TransferNode;
let work: string;
let bigExport: Buffer;

/**
 * The example export with its data rows repeated to about 3 MB (many envelope and spool chunks). Each
 * copy gets its own examinee IDs: the same examinee and visit twice is a duplicate record.
 */
function repeatedExport(): Buffer {
  const text = iconv.decode(exampleExport(), "cp932");
  const [header, ...rows] = text.split("\r\n").filter((l) => l !== "");
  const body: string[] = [];
  let size = 0;
  for (let copy = 0; size < 3_000_000; copy++) {
    for (const r of rows) {
      const line = r.replace(/^([^,]*),K(\d+),/, (_, date: string, id: string) => `${date},K${copy}-${id},`);
      body.push(line);
      size += line.length * 2;
    }
  }
  return iconv.encode(`${header ?? ""}\r\n${body.join("\r\n")}\r\n`, "cp932");
}

function counts(): { transfers: number; chunks: number; keys: number } {
  const n = (sql: string) => t.node.ctx.db.prepare<[], { n: number }>(sql).get()?.n ?? 0;
  return {
    transfers: n("SELECT count(*) AS n FROM transfers"),
    chunks: n("SELECT count(*) AS n FROM payload_chunks"),
    keys: n("SELECT count(*) AS n FROM transfer_keys"),
  };
}

function spoolFiles(): string[] {
  try {
    return readdirSync(spoolDir(t.node.ctx));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  t = await startTransferNode();
  work = mkdtempSync(join(tmpdir(), "kenshin-streamed-"));
  bigExport = repeatedExport();
}, 120_000);

afterAll(async () => {
  await t.node.close();
  rmSync(work, { recursive: true, force: true });
});

describe("streamed uploads and downloads", () => {
  it("converts a multi-MB export sent as a stream; the streamed download is exactly a local conversion", async () => {
    const path = join(work, "export.csv");
    writeFileSync(path, bigExport);
    const up = await uploadExportFile(t.sender, t.receiverId, path, { tmpDir: work });
    expectStatus(up, 201);
    const { transfer } = up.json as { transfer: { id: string; standard?: { sha256: string } } };
    const local = await convertLocally(bigExport);
    expect(local.bytes.length).toBeGreaterThan(1024 * 1024);
    expect(transfer.standard?.sha256).toBe(local.summary.output.sha256);
    expect(spoolFiles()).toEqual([]);
    expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const down = await downloadStandard(t.receiver, transfer.id);
    if ("refused" in down) throw new Error(down.refused.text);
    expect(Buffer.from(down.bytes).equals(local.bytes)).toBe(true);
    expect(sha256Hex(down.bytes)).toBe(local.summary.output.sha256);
  });

  it("a connection cut mid-body leaves no transfer, payload or spool file, and records a denial", async () => {
    const before = counts();
    const ledgerBefore = t.node.ctx.ledger.size();
    const agreed = await agreeEnvelopeKey(t.sender, "upload");
    if ("refused" in agreed) throw new Error(agreed.refused.text);
    const sealed = await sealEnvelope(agreed.key, bigExport);
    const half = Math.floor(sealed.length / 2);
    await expect(
      t.sender.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(t.receiverId)}`, {
        stream: {
          sha256Hex: sha256Hex(sealed),
          length: sealed.length,
          async *chunks() {
            yield sealed.subarray(0, half);
            await new Promise((resolve) => setTimeout(resolve, 200));
            throw new Error("the sender's network went away");
          },
        },
        contentType: "application/octet-stream",
        headers: { [ENVELOPE_HEADER]: agreed.channelId },
      }),
    ).rejects.toThrow();
    // The server notices the cut on its own time: wait (bounded) for its denial entry.
    let recorded: string[] = [];
    for (let i = 0; i < 100 && recorded.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      recorded = denials(entriesSince(t.node.ctx, ledgerBefore))
        .filter((d) => d.action === "upload")
        .map((d) => d.code);
    }
    expect(recorded.length).toBe(1);
    expect(["UPLOAD_INTERRUPTED", "ENVELOPE_INVALID"]).toContain(recorded[0]);
    expect(counts()).toEqual(before);
    expect(spoolFiles()).toEqual([]);
    expect(await reach(t.sender)).toBe(200);
  });

  it("a device signature over another body: refused after reading, nothing stored, a denial recorded", async () => {
    const before = counts();
    const ledgerBefore = t.node.ctx.ledger.size();
    const agreed = await agreeEnvelopeKey(t.sender, "upload");
    if ("refused" in agreed) throw new Error(agreed.refused.text);
    const sealed = await sealEnvelope(agreed.key, bigExport);
    const r = await t.sender.request(
      "POST",
      `/api/v1/transfers?receiver=${encodeURIComponent(t.receiverId)}`,
      {
        stream: {
          sha256Hex: sha256Hex(Buffer.from("some other body")),
          length: sealed.length,
          chunks: () => Readable.from([Buffer.from(sealed)]),
        },
        contentType: "application/octet-stream",
        headers: { [ENVELOPE_HEADER]: agreed.channelId },
      },
    );
    expect(r.status).toBe(401);
    const codes = denials(entriesSince(t.node.ctx, ledgerBefore)).map((d) => d.code);
    expect(codes).toHaveLength(1);
    expectCode(r, r.status, codes[0] ?? "");
    expect(counts()).toEqual(before);
    expect(spoolFiles()).toEqual([]);
  });

  it("the ledger and the payload store stay consistent (fsck)", () => {
    expect(fsckDataDir(t.node)).toMatchObject({ ok: true });
  });
});
