/**
 * A real RFC 3161 time-stamp authority for tests: a small HTTP server on 127.0.0.1 (random port) that
 * answers each `application/timestamp-query` with what `openssl ts -reply` makes of it, signed by a TSA
 * certificate from the test's CA. `mode` turns it into a faulty TSA, for the client's failure paths:
 * an answer that never comes, bytes that are not a TimeStampResp, a reply to another request (other
 * nonce), a reply over another digest, an HTTP error or a wrong content type, or a reply too large.
 * Nothing here is our code's: openssl builds and signs every token.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type TsaMode =
  "ok" | "hang" | "garbage" | "other-nonce" | "other-imprint" | "http-500" | "wrong-type" | "huge";

export interface OpensslTsa {
  readonly url: string;
  /** How the next requests are answered. */
  mode: TsaMode;
  /** Queries received (DER TimeStampReq), in order. */
  readonly queries: Uint8Array[];
  close(): Promise<void>;
}

const OPENSSL_TIMEOUT_MS = 30_000;

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd, timeout: OPENSSL_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args[0] ?? ""} ${args[1] ?? ""}: ${stderr}`));
      else resolve();
    });
  });
}

/** Starts the TSA; `certPem`/`keyPem` are a certificate with extKeyUsage timeStamping (critical). */
export async function startOpensslTsa(o: { certPem: string; keyPem: string }): Promise<OpensslTsa> {
  const dir = mkdtempSync(join(tmpdir(), "kenshin-openssl-tsa-"));
  writeFileSync(join(dir, "tsa.pem"), o.certPem);
  writeFileSync(join(dir, "tsa.key"), o.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, "serial"), "01\n");
  writeFileSync(
    join(dir, "ts.cnf"),
    [
      "[ tsa ]",
      "default_tsa = tsa_config",
      "[ tsa_config ]",
      `dir = ${dir}`,
      "serial = $dir/serial",
      "crypto_device = builtin",
      "signer_cert = $dir/tsa.pem",
      "signer_key = $dir/tsa.key",
      "signer_digest = sha256",
      "default_policy = 1.2.3.4.1",
      "digests = sha256",
      "accuracy = secs:1",
      "ordering = yes",
      "tsa_name = yes",
      "ess_cert_id_chain = no",
      "ess_cert_id_alg = sha256",
      "",
    ].join("\n"),
  );
  let n = 0;
  /** openssl's reply to `query` (DER), made through files in the TSA's directory. */
  const reply = async (query: Uint8Array): Promise<Buffer> => {
    const name = `q${++n}`;
    writeFileSync(join(dir, `${name}.tsq`), query);
    await openssl(
      ["ts", "-reply", "-config", "ts.cnf", "-queryfile", `${name}.tsq`, "-out", `${name}.tsr`],
      dir,
    );
    return readFileSync(join(dir, `${name}.tsr`));
  };
  /** openssl's reply to a fresh query of its own over `data` (its own random nonce). */
  const replyToOwnQuery = async (data: string): Promise<Buffer> => {
    const name = `own${++n}`;
    writeFileSync(join(dir, `${name}.dat`), data);
    await openssl(["ts", "-query", "-data", `${name}.dat`, "-sha256", "-cert", "-out", `${name}.tsq`], dir);
    return reply(readFileSync(join(dir, `${name}.tsq`)));
  };

  const state: { mode: TsaMode } = { mode: "ok" };
  const queries: Uint8Array[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const query = new Uint8Array(Buffer.concat(chunks));
      queries.push(query);
      const answer = (body: Buffer, type = "application/timestamp-reply", status = 200): void => {
        res.writeHead(status, { "content-type": type, "content-length": body.length }).end(body);
      };
      const REPLY = "application/timestamp-reply";
      /** The answer for the current mode: body, content type, status; undefined = never answer. */
      const answerOf = async (): Promise<[Buffer, string, number] | undefined> => {
        switch (state.mode) {
          case "ok":
            return [await reply(query), REPLY, 200];
          case "hang":
            return undefined;
          case "garbage":
            return [Buffer.from("this is not a TimeStampResp"), REPLY, 200];
          case "other-nonce": {
            // A genuine reply over the same digest, but to another request: openssl re-asked with the
            // same imprint and its own nonce, so only the nonce differs.
            const name = `imprint${++n}`;
            const digest = imprintHex(Buffer.from(query));
            await openssl(
              ["ts", "-query", "-digest", digest, "-sha256", "-cert", "-out", `${name}.tsq`],
              dir,
            );
            return [await reply(readFileSync(join(dir, `${name}.tsq`))), REPLY, 200];
          }
          case "other-imprint":
            return [await replyToOwnQuery("some other data"), REPLY, 200];
          case "http-500":
            return [Buffer.from("internal error"), "text/plain", 500];
          case "wrong-type":
            return [await reply(query), "text/html", 200];
          case "huge":
            return [Buffer.alloc(200 * 1024, 0x30), REPLY, 200];
        }
      };
      const work = async (): Promise<void> => {
        const a = await answerOf();
        if (a === undefined) hanging.add(res);
        else answer(...a);
      };
      work().catch((error: unknown) => {
        answer(Buffer.from(String(error)), "text/plain", 500);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/tsa`,
    get mode() {
      return state.mode;
    },
    set mode(m: TsaMode) {
      state.mode = m;
    },
    queries,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The SHA-256 message imprint of a DER TimeStampReq, as hex: the 32 bytes after the SHA-256
 * AlgorithmIdentifier's OCTET STRING header (requests here always carry SHA-256).
 */
function imprintHex(query: Buffer): string {
  const sha256Oid = Buffer.from("0609608648016503040201", "hex");
  const at = query.indexOf(sha256Oid);
  if (at < 0) throw new Error("not a SHA-256 request");
  // OID, then optional NULL (05 00), then OCTET STRING 04 20 <32 bytes>.
  const octet = query.indexOf(Buffer.from("0420", "hex"), at + sha256Oid.length);
  return query.subarray(octet + 2, octet + 34).toString("hex");
}
