import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_PROXY_BODY_BYTES,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
  ProxyProtocolError,
  type ProxyParse,
} from "./proxy-protocol.js";

/** A v2 header as haproxy writes it (spec 2.2): signature, ver/cmd, fam/transport, length, body. */
function header(o: { verCmd: number; famTransport: number; body: Uint8Array; length?: number }): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(o.verCmd, 0);
  fixed.writeUInt8(o.famTransport, 1);
  fixed.writeUInt16BE(o.length ?? o.body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, o.body]);
}

function tcp4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return header({
    verCmd: 0x21,
    famTransport: 0x11,
    body: Buffer.concat([Buffer.from(src), Buffer.from(dst), ports]),
  });
}

function codeOf(bytes: Uint8Array): string | undefined {
  try {
    parseProxyHeader(bytes);
    return undefined;
  } catch (error) {
    return error instanceof ProxyProtocolError ? error.code : "not coded";
  }
}

const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);

describe("parseProxyHeader", () => {
  it("reads a TCP/IPv4 PROXY header and says where the connection's own bytes start", () => {
    const bytes = Buffer.concat([tcp4([127, 0, 0, 2], [127, 0, 0, 1], 50_123, 8443), clientHello]);
    const parsed = parseProxyHeader(bytes);
    expect(parsed).toEqual({
      kind: "header",
      header: {
        command: "proxy",
        length: 28,
        source: { address: "127.0.0.2", port: 50_123 },
        destination: { address: "127.0.0.1", port: 8443 },
      },
    });
  });

  it("reads a TCP/IPv6 PROXY header in the canonical text form", () => {
    const src = Buffer.alloc(16);
    src.writeUInt16BE(0x2001, 0);
    src.writeUInt16BE(0x0db8, 2);
    src.writeUInt16BE(0x0001, 14);
    const dst = Buffer.alloc(16);
    dst.writeUInt8(1, 15);
    const ports = Buffer.from([0x01, 0xbb, 0x20, 0xfb]);
    const parsed = parseProxyHeader(
      header({ verCmd: 0x21, famTransport: 0x21, body: Buffer.concat([src, dst, ports]) }),
    );
    expect(parsed.kind === "header" && parsed.header.source).toEqual({ address: "2001:db8::1", port: 443 });
    expect(parsed.kind === "header" && parsed.header.destination).toEqual({ address: "::1", port: 8443 });
  });

  it("skips TLVs after the addresses (the length covers them)", () => {
    const base = tcp4([10, 0, 0, 7], [10, 0, 0, 1], 1, 2).subarray(16);
    const tlv = Buffer.from([0x04, 0x00, 0x02, 0x00, 0x00]); // PP2_TYPE_NOOP, 2 bytes
    const parsed = parseProxyHeader(
      header({ verCmd: 0x21, famTransport: 0x11, body: Buffer.concat([base, tlv]) }),
    );
    expect(parsed.kind === "header" && parsed.header.length).toBe(16 + 12 + 5);
    expect(parsed.kind === "header" && parsed.header.source?.address).toBe("10.0.0.7");
  });

  it("takes a LOCAL header (haproxy's health check) without an address, whatever its family", () => {
    expect(parseProxyHeader(header({ verCmd: 0x20, famTransport: 0x00, body: new Uint8Array(0) }))).toEqual({
      kind: "header",
      header: { command: "local", length: 16 },
    });
    const local4 = tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    local4[12] = 0x20;
    expect(parseProxyHeader(local4)).toEqual({ kind: "header", header: { command: "local", length: 28 } });
  });

  it("asks for more bytes while a valid header is still arriving", () => {
    const whole = tcp4([127, 0, 0, 3], [127, 0, 0, 1], 4000, 8443);
    expect(parseProxyHeader(whole.subarray(0, 0))).toEqual({ kind: "incomplete", need: 16 });
    expect(parseProxyHeader(whole.subarray(0, 5))).toEqual({ kind: "incomplete", need: 16 });
    expect(parseProxyHeader(whole.subarray(0, 16))).toEqual({ kind: "incomplete", need: 28 });
    expect(parseProxyHeader(whole.subarray(0, 27))).toEqual({ kind: "incomplete", need: 28 });
  });

  it("gives the same header whichever way the bytes were split (fed one byte at a time)", () => {
    const whole = Buffer.concat([tcp4([127, 0, 0, 2], [127, 0, 0, 1], 1234, 8443), clientHello]);
    let got: ProxyParse | undefined;
    for (let n = 1; n <= whole.length && got?.kind !== "header"; n++)
      got = parseProxyHeader(whole.subarray(0, n));
    expect(got).toEqual(parseProxyHeader(whole));
  });

  it("when the first bytes are a TLS ClientHello → PROXY_SIGNATURE_INVALID at once", () => {
    expect(codeOf(clientHello.subarray(0, 1))).toBe("PROXY_SIGNATURE_INVALID");
  });

  it("when one signature byte is wrong → PROXY_SIGNATURE_INVALID", () => {
    const bad = tcp4([127, 0, 0, 2], [127, 0, 0, 1], 1, 2);
    bad[7] = 0x52;
    expect(codeOf(bad)).toBe("PROXY_SIGNATURE_INVALID");
    expect(codeOf(bad.subarray(0, 8))).toBe("PROXY_SIGNATURE_INVALID");
  });

  it("when a v1 text header comes → PROXY_V1_UNSUPPORTED", () => {
    expect(codeOf(Buffer.from("PROXY TCP4 127.0.0.2 127.0.0.1 5000 8443\r\n", "latin1"))).toBe(
      "PROXY_V1_UNSUPPORTED",
    );
    expect(codeOf(Buffer.from("PRO", "latin1"))).toBe("PROXY_V1_UNSUPPORTED");
  });

  it("when the version is not 2 or the command unknown → PROXY_VERSION_UNSUPPORTED", () => {
    const v3 = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
    v3[12] = 0x31;
    expect(codeOf(v3)).toBe("PROXY_VERSION_UNSUPPORTED");
    const cmd2 = tcp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
    cmd2[12] = 0x22;
    expect(codeOf(cmd2)).toBe("PROXY_VERSION_UNSUPPORTED");
  });

  it("when PROXY names UDP or a UNIX socket → PROXY_FAMILY_UNSUPPORTED", () => {
    expect(codeOf(header({ verCmd: 0x21, famTransport: 0x12, body: new Uint8Array(12) }))).toBe(
      "PROXY_FAMILY_UNSUPPORTED",
    );
    expect(codeOf(header({ verCmd: 0x21, famTransport: 0x31, body: new Uint8Array(216) }))).toBe(
      "PROXY_FAMILY_UNSUPPORTED",
    );
  });

  it("when the length is over the bound → PROXY_LENGTH_INVALID on the first 16 bytes", () => {
    const big = header({
      verCmd: 0x21,
      famTransport: 0x11,
      body: new Uint8Array(0),
      length: MAX_PROXY_BODY_BYTES + 1,
    });
    expect(codeOf(big)).toBe("PROXY_LENGTH_INVALID");
    expect(
      codeOf(header({ verCmd: 0x21, famTransport: 0x11, body: new Uint8Array(0), length: 0xffff })),
    ).toBe("PROXY_LENGTH_INVALID");
  });

  it("when the length is shorter than the address block → PROXY_LENGTH_INVALID", () => {
    expect(codeOf(header({ verCmd: 0x21, famTransport: 0x11, body: new Uint8Array(8) }))).toBe(
      "PROXY_LENGTH_INVALID",
    );
    expect(codeOf(header({ verCmd: 0x21, famTransport: 0x21, body: new Uint8Array(12) }))).toBe(
      "PROXY_LENGTH_INVALID",
    );
  });

  it("never throws anything but a coded refusal, and never reads past what it was given (any bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (tail, signed) => {
        const bytes = signed ? Buffer.concat([PROXY_V2_SIGNATURE, tail]) : Buffer.from(tail);
        try {
          const parsed = parseProxyHeader(bytes);
          if (parsed.kind === "header") expect(parsed.header.length).toBeLessThanOrEqual(bytes.length);
          else expect(parsed.need).toBeGreaterThan(bytes.length);
        } catch (error) {
          expect(error).toBeInstanceOf(ProxyProtocolError);
        }
      }),
    );
  });
});
