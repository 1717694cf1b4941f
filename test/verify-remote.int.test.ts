/**
 * `kenshin verify <file> --url …`: the trail fetched from the running service, every signature and
 * proof checked locally against the pinned verifier key.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import {
  EXAMPLE_DIR,
  NEW_PASSWORD,
  expectStatus,
  firstLogin,
  startTestNode,
  type TestNode,
} from "./support/test-node.js";

let node: TestNode;
let dir: string;
let standard: Uint8Array;

beforeAll(async () => {
  node = await startTestNode();
  dir = mkdtempSync(join(tmpdir(), "kenshin-verify-remote-"));
  const sender = node.client("sender");
  const receiver = node.client("receiver");
  await firstLogin(sender, node.account("sender").loginId, node.account("sender").password);
  await firstLogin(receiver, node.account("receiver").loginId, node.account("receiver").password);
  const receiverId = ((await receiver.get("/api/v1/session")).json as { institution: { id: string } })
    .institution.id;
  const up = await uploadExport(sender, receiverId, readFileSync(join(EXAMPLE_DIR, "export.csv")));
  expectStatus(up, 201);
  const id = (up.json as { transfer: { id: string } }).transfer.id;
  expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
  const down = await downloadStandard(receiver, id);
  if ("refused" in down) throw new Error("download refused");
  standard = down.bytes;
}, 120_000);

afterAll(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI asynchronously: the server under test lives in this process and must keep answering. */
function verify(file: string): Promise<{ code: number | null; out: string; err: string }> {
  const r = node.account("receiver");
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "dist/cli/main.js",
        "verify",
        file,
        "--url",
        node.baseUrl,
        "--ca",
        node.demo.caCertificate,
        "--cert",
        r.certificate,
        "--key",
        r.key,
        "--id",
        r.loginId,
        "--verifier",
        join(node.dir, "keys", "ledger.vkey"),
        "--json",
      ],
      { encoding: "utf8", env: { ...process.env, KENSHIN_PASSWORD: NEW_PASSWORD }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : null) : 0,
          out: stdout,
          err: stderr,
        });
      },
    );
  });
}

describe("kenshin verify --url", () => {
  it("verifies the downloaded standard CSV against the service's signed trail → exit 0", async () => {
    const file = join(dir, "standard.csv");
    writeFileSync(file, standard);
    const r = await verify(file);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, by: "file" });
  });

  it("verifies a file holding one record (header + that record) by the record's two-level proof → exit 0", async () => {
    const text = Buffer.from(standard).toString("utf8");
    const [header, first] = text.split("\r\n");
    const file = join(dir, "one-record.csv");
    writeFileSync(file, `${header ?? ""}\r\n${first ?? ""}\r\n`);
    const r = await verify(file);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, by: "records" });
  });

  it("when one byte of the file was changed → exit 1", async () => {
    const edited = Buffer.from(standard);
    const at = edited.indexOf(Buffer.from("\r\n")) + 40;
    edited[at] = (edited[at] ?? 0) ^ 0x01;
    const file = join(dir, "edited.csv");
    writeFileSync(file, edited);
    const r = await verify(file);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false });
  });
});
