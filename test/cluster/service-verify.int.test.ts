/**
 * The verifiers against the cosigned checkpoint through the whole replicated service
 * (test/support/service-cluster.ts: haproxy + 3 `kenshin serve` + the offline node on real etcd 3.4).
 * A real upload, send and download go through haproxy; the downloaded standard CSV's trail is then
 * verified by the CLI (`kenshin verify --url <haproxy> --cosigner …`, the nodes' witness keys pinned
 * from the cluster's cosigners.txt like the log key) against the published checkpoint, which 2 of the
 * 3 online nodes cosigned. A checkpoint with too few valid cosignatures, a cosignature that does not
 * verify, or cosignatures by keys that are not pinned are refused with their codes — by the CLI for
 * the unpinned keys (the service serves only good notes), by the one shared verifier
 * (`ledger/verify/remote-trail.ts`, which the CLI and the browser run) for notes altered in transit.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkTrail } from "../../web/src/trail-check.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createCosigner } from "../../src/crypto/note-signer.js";
import { sha256Hex } from "../../src/format/hash.js";
import { parseCosignerList } from "../../src/ledger/verify/cosigner-list.js";
import { verifyRemoteTrail } from "../../src/ledger/verify/remote-trail.js";
import { parseSignedNote } from "../../src/ledger/verify/signed-note.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { expectCode } from "../ledger/expect-code.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, NEW_PASSWORD, expectStatus, firstLogin } from "../support/test-node.js";

const cluster = useServiceCluster();
const CLI = join(process.cwd(), "dist/cli/main.js");

/** The pinned node keys and quorum as `kenshin cluster init` wrote them (cosigners.txt). */
function pinnedCosigners(path: string): { keys: string[]; quorum: number } {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const quorum = Number((lines.find((l) => l.startsWith("quorum ")) ?? "").slice("quorum ".length));
  return { keys: lines.filter((l) => !l.startsWith("quorum ")), quorum };
}

/** The note with its cosignature lines replaced: the log's signature line kept, `keep` of the others. */
function withCosignatureLines(note: string, logKeyName: string, keep: (lines: string[]) => string[]): string {
  const [text, sigs] = note.split("\n\n");
  const lines = (sigs ?? "").split("\n").filter((l) => l !== "");
  const log = lines.filter((l) => l.startsWith(`— ${logKeyName} `));
  const others = lines.filter((l) => !l.startsWith(`— ${logKeyName} `));
  return `${text}\n\n${[...log, ...keep(others)].join("\n")}\n`;
}

interface CliRun {
  code: number | null;
  json: { ok: boolean; code?: string; cosignatures?: { name: string }[]; entries?: unknown[] };
  stderr: string;
}

describe("kenshin verify through haproxy against the published, quorum-cosigned checkpoint", () => {
  let standardFile = "";
  let standard: Uint8Array = new Uint8Array();
  let answer: { checkpoint: string } & Record<string, unknown> = { checkpoint: "" };

  const cli = (extra: string[]): Promise<CliRun> => {
    const c = cluster();
    const r = c.account("receiver");
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [
          CLI,
          "verify",
          standardFile,
          "--url",
          c.frontend,
          "--ca",
          c.files.caCert,
          "--cert",
          r.certificate,
          "--key",
          r.key,
          "--id",
          r.loginId,
          "--verifier",
          c.files.logVerifierKey,
          "--json",
          ...extra,
        ],
        { encoding: "utf8", env: { ...process.env, KENSHIN_PASSWORD: NEW_PASSWORD }, timeout: 120_000 },
        (error, stdout, stderr) => {
          const line = stdout.trim().split("\n").at(-1) ?? "{}";
          let json: CliRun["json"] = { ok: false };
          try {
            json = JSON.parse(line) as CliRun["json"];
          } catch {
            // not JSON: left as a failure for the assertions below
          }
          resolve({ code: error === null ? 0 : (error.code as number | null), json, stderr });
        },
      );
    });
  };

  it("a real upload, send and download through haproxy verify with the node keys pinned", async () => {
    const c = cluster();
    const sender = c.client("sender");
    const receiver = c.client("receiver");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    await firstLogin(receiver, c.account("receiver").loginId, c.account("receiver").password);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const up = await uploadExport(
      sender,
      receivers.receivers[0]?.id ?? "",
      readFileSync(join(EXAMPLE_DIR, "export.csv")),
    );
    expectStatus(up, 201);
    const id = (up.json as { transfer: { id: string } }).transfer.id;
    expectStatus(await sender.post(`/api/v1/transfers/${id}/send`), 200);
    const down = await downloadStandard(receiver, id);
    if ("refused" in down) throw new Error(`download refused: ${JSON.stringify(down)}`);
    standard = down.bytes;
    standardFile = join(c.dir, "downloaded-standard.csv");
    writeFileSync(standardFile, standard);
    const looked = await receiver.post("/api/v1/lookup", { sha256: sha256Hex(standard) });
    expectStatus(looked, 200);
    answer = looked.json as typeof answer;

    const pinned = pinnedCosigners(c.files.cosigners);
    expect(pinned.keys).toHaveLength(3);
    expect(pinned.quorum).toBe(2);
    const ok = await cli([
      ...pinned.keys.flatMap((k) => ["--cosigner", k]),
      "--quorum",
      String(pinned.quorum),
    ]);
    expect({ code: ok.code, ok: ok.json.ok, stderr: ok.stderr }).toEqual({ code: 0, ok: true, stderr: "" });
    // At least 2 distinct pinned node keys cosigned the checkpoint the trail is proven under.
    const names = (ok.json.cosignatures ?? []).map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(2);
    const pinnedNames = pinned.keys.map((k) => parseVerifierKey(k).name);
    for (const n of names) expect(pinnedNames).toContain(n);
    // The trail holds the upload, the send and the download of this transfer.
    const types = (ok.json.entries ?? []).map((e) => (e as { record: { type: string } }).record.type);
    expect(types).toEqual(expect.arrayContaining(["upload", "conversion", "send", "download"]));
  }, 300_000);

  it("cosignatures by keys that are not pinned: the CLI refuses (exit 1, LEDGER_COSIGNER_UNKNOWN)", async () => {
    const strangers = [1, 2, 3].map(
      (i) => createCosigner(generateNoteKey(`kenshin.example/stranger${i}`), Date.now).verifierKey,
    );
    const r = await cli([...strangers.flatMap((k) => ["--cosigner", k]), "--quorum", "2"]);
    expect({ code: r.code, ok: r.json.ok, code2: r.json.code }).toEqual({
      code: 1,
      ok: false,
      code2: "LEDGER_COSIGNER_UNKNOWN",
    });
    expect(r.stderr).toMatch(/^kenshin: LEDGER_COSIGNER_UNKNOWN: /m);
    // One real node key pinned beside two strangers cannot make the quorum either.
    const c = cluster();
    const [realKey] = pinnedCosigners(c.files.cosigners).keys;
    const mixed = await cli([
      ...[realKey ?? "", ...strangers.slice(0, 2)].flatMap((k) => ["--cosigner", k]),
      "--quorum",
      "2",
    ]);
    expect(mixed.code).toBe(1);
    expect(["LEDGER_COSIGNER_UNKNOWN", "LEDGER_COSIGNATURE_QUORUM"]).toContain(mixed.json.code);
  }, 300_000);

  it("the published note with too few or a forged cosignature is refused by the shared verifier", async () => {
    const c = cluster();
    const logKey = parseVerifierKey(readFileSync(c.files.logVerifierKey, "utf8").trim());
    const pinned = pinnedCosigners(c.files.cosigners);
    const policy = { cosigners: pinned.keys.map((k) => parseVerifierKey(k)), quorum: pinned.quorum };
    // What the browser pins beside the log key (web/src/verifier-pin.ts) is the cluster's cosigners.txt.
    const served = await c.client("receiver").get("/api/v1/ledger/cosigners");
    expectStatus(served, 200);
    expect(parseCosignerList(served.text, logKey)).toEqual(policy);
    const o = { logKey, cosigners: policy, fileSha256: sha256Hex(standard) };
    // As served: verifies, in the CLI's verifier and in the browser's.
    expect(verifyRemoteTrail(answer, o).cosignatures.length).toBeGreaterThanOrEqual(2);
    expect(checkTrail(answer, logKey, o).verified).toBe(true);
    expect(parseSignedNote(answer.checkpoint).signatures.length).toBeGreaterThanOrEqual(3);

    // Only one cosignature left.
    const one = {
      ...answer,
      checkpoint: withCosignatureLines(answer.checkpoint, logKey.name, (l) => l.slice(0, 1)),
    };
    expectCode(() => verifyRemoteTrail(one, o), "LEDGER_COSIGNATURE_QUORUM");
    expect(checkTrail(one, logKey, o).verified).toBe(false);

    // A cosignature whose bytes were changed (its name and key ID kept).
    const forged = {
      ...answer,
      checkpoint: withCosignatureLines(answer.checkpoint, logKey.name, (lines) =>
        lines.map((l, i) => {
          if (i !== 0) return l;
          const [dash, name, b64] = l.split(" ");
          const bytes = Buffer.from(b64 ?? "", "base64");
          bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
          return `${dash} ${name} ${bytes.toString("base64")}`;
        }),
      ),
    };
    expectCode(() => verifyRemoteTrail(forged, o), "LEDGER_COSIGNATURE_INVALID");
    expect(checkTrail(forged, logKey, o).verified).toBe(false);

    // Only the log's signature: the single node's kind of checkpoint is not a published one.
    const bare = { ...answer, checkpoint: withCosignatureLines(answer.checkpoint, logKey.name, () => []) };
    expectCode(() => verifyRemoteTrail(bare, o), "LEDGER_COSIGNATURE_QUORUM");
  });
});
