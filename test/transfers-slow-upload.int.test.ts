/**
 * An upload whose body takes longer to arrive than the whole-request bound (requestSeconds, here 1 s)
 * is still accepted once its sender is signed in: a 1–2 GB export streams through the converter as it
 * arrives and cannot finish within a fixed bound on a busy machine (connection-limits.ts
 * `allowLongBody`). Real node, real HTTPS on 127.0.0.1; the same slow body to a route that does not
 * allow it is cut (the slowloris bound stays).
 */
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sealEnvelope } from "../src/client/envelope.js";
import { agreeEnvelopeKey } from "../src/client/transfer-client.js";
import { sha256Hex } from "../src/format/hash.js";
import {
  convertLocally,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectStatus } from "./support/test-node.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";
let t: TransferNode;

beforeAll(async () => {
  t = await startTransferNode({
    config: {
      connections: {
        handshakeSeconds: 5,
        headerSeconds: 2,
        requestSeconds: 2,
        idleSeconds: 5,
        perAddress: 1000,
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await t.node.close();
});

/**
 * The example export with its data rows repeated to about 2 MB, each copy with its own examinee IDs:
 * allowLongBody then gives it ~8 s (at 256 KiB/s) on top of the 1 s request bound.
 */
function repeatedExport(): Buffer {
  const text = iconv.decode(exampleExport(), "cp932");
  const [header, ...rows] = text.split("\r\n").filter((l) => l !== "");
  const body: string[] = [];
  let size = 0;
  for (let copy = 0; size < 2_000_000; copy++) {
    for (const r of rows) {
      const line = r.replace(/^([^,]*),K(\d+),/, (_, date: string, id: string) => `${date},K${copy}-${id},`);
      body.push(line);
      size += line.length * 2;
    }
  }
  return iconv.encode(`${header ?? ""}\r\n${body.join("\r\n")}\r\n`, "cp932");
}

/** The sealed export in `parts` pieces, `gapMs` apart (a slow link). */
function slowly(sealed: Uint8Array, parts: number, gapMs: number) {
  const size = Math.ceil(sealed.length / parts);
  return async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < sealed.length; at += size) {
      if (at > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      yield sealed.subarray(at, Math.min(sealed.length, at + size));
    }
  };
}

describe("a slow upload body", () => {
  it("arriving over ~2.5 s (request bound 1 s, ~8 s more for 2 MB) is converted and stored", async () => {
    const exported = repeatedExport();
    const agreed = await agreeEnvelopeKey(t.sender, "upload");
    if ("refused" in agreed) throw new Error(agreed.refused.text);
    const sealed = await sealEnvelope(agreed.key, exported);
    const r = await t.sender.request(
      "POST",
      `/api/v1/transfers?receiver=${encodeURIComponent(t.receiverId)}`,
      {
        stream: { sha256Hex: sha256Hex(sealed), length: sealed.length, chunks: slowly(sealed, 6, 500) },
        contentType: "application/octet-stream",
        headers: { [ENVELOPE_HEADER]: agreed.channelId },
      },
    );
    expectStatus(r, 201);
    const { transfer } = r.json as { transfer: { standard?: { sha256: string } } };
    expect(transfer.standard?.sha256).toBe((await convertLocally(exported)).summary.output.sha256);
  });

  it("to a route that does not allow a long body, the same pace is cut at the request bound", async () => {
    const body = Buffer.from(JSON.stringify({ loginId: "x".repeat(3000), password: "y" }));
    await expect(
      t.sender.request("POST", "/api/v1/session", {
        stream: { sha256Hex: sha256Hex(body), length: body.length, chunks: slowly(body, 6, 500) },
        contentType: "application/json",
      }),
    ).rejects.toThrow();
  });
});
