/**
 * The user listener with `proxy` trust over real loopback sockets: what reaches the server after a
 * PROXY v2 header (the connection's own bytes, untouched, and the user's address on the socket), with
 * the header arriving one byte at a time, and what an untrusted peer's bytes become (passed on as they
 * are, for TLS to refuse). The receiving end is a plain recorder of the connections the listener hands
 * over (in the node it is the HTTPS server).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress, proxyTrust } from "./proxy-protocol-listener.js";
import { PROXY_V2_SIGNATURE } from "./proxy-protocol.js";
import { listenForUsers, type UserListener } from "./user-listener.js";

interface Handed {
  readonly address: string | undefined;
  readonly bytes: Buffer;
}

let listener: UserListener;
const handed: Promise<Handed>[] = [];
let nextHanded: ((h: { readonly handed: Promise<Handed> }) => void) | undefined;

/** Collects everything the listener passes on, until the client ends its side. */
function record(socket: Socket): Promise<Handed> {
  const address = clientAddress(socket);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("end", () => {
      socket.end();
      resolve({ address, bytes: Buffer.concat(chunks) });
    });
    socket.resume();
  });
}

beforeAll(async () => {
  const trust = proxyTrust(["127.0.0.1"], 1000);
  if (trust === undefined) throw new Error("no trust");
  listener = await listenForUsers(
    {
      emit(_event, socket) {
        const h = record(socket);
        handed.push(h);
        nextHanded?.({ handed: h });
        return true;
      },
    },
    { host: "127.0.0.1", port: 0, proxy: trust },
  );
});

afterAll(() => {
  listener.close();
});

function header(command: number, source: number[]): Buffer {
  const body = Buffer.from([command, 0x11, 0x00, 0x0c, ...source, 127, 0, 0, 1, 0x13, 0x88, 0x20, 0xfb]);
  return Buffer.concat([PROXY_V2_SIGNATURE, body]);
}

/** Sends `bytes` from `from` (each piece written apart, `gapMs` between), ends, and gets what was handed on. */
async function send(from: string, pieces: readonly Buffer[], gapMs = 0): Promise<Handed | "closed"> {
  const got = new Promise<{ readonly handed: Promise<Handed> }>((resolve) => {
    nextHanded = resolve;
  });
  const socket = connect({ host: "127.0.0.1", port: listener.port, localAddress: from });
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  const closed = new Promise<"closed">((resolve) =>
    socket.once("close", () => {
      resolve("closed");
    }),
  );
  for (const piece of pieces) {
    socket.write(piece);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  socket.end();
  const first = await Promise.race([got, closed]);
  return first === "closed" ? "closed" : first.handed;
}

const payload = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);

describe("the user listener behind a trusted proxy", () => {
  it("hands on the connection's own bytes untouched and the header's address, the header sent a byte at a time", async () => {
    const head = header(0x21, [127, 0, 0, 2]);
    const pieces = [...head].map((b) => Buffer.from([b]));
    const got = await send("127.0.0.1", [...pieces, payload], 2);
    expect(got).toEqual({ address: "127.0.0.2", bytes: payload });
  });

  it("hands on the header's trailing bytes when header and payload come in one piece", async () => {
    const got = await send("127.0.0.1", [Buffer.concat([header(0x21, [10, 1, 2, 3]), payload])]);
    expect(got).toEqual({ address: "10.1.2.3", bytes: payload });
  });

  it("keeps the connection's own address for a LOCAL header (haproxy's health check)", async () => {
    const got = await send("127.0.0.1", [Buffer.concat([header(0x20, [10, 9, 9, 9]), payload])]);
    expect(got).toEqual({ address: "127.0.0.1", bytes: payload });
  });

  it("hands on a TLS ClientHello from the trusted address as it is, under that address", async () => {
    expect(await send("127.0.0.1", [payload])).toEqual({ address: "127.0.0.1", bytes: payload });
  });

  it("closes a trusted connection whose header is malformed, and never hands it on", async () => {
    const bad = header(0x21, [127, 0, 0, 2]);
    bad[13] = 0x12; // UDP
    expect(await send("127.0.0.1", [bad, payload])).toBe("closed");
  });

  it("reads nothing from an untrusted address: a header is handed on as the connection's bytes", async () => {
    const forged = Buffer.concat([header(0x21, [127, 0, 0, 9]), payload]);
    expect(await send("127.0.0.7", [forged])).toEqual({ address: "127.0.0.7", bytes: forged });
  });
});
