import { describe, expect, it } from "vitest";
import { chunkAddress } from "../store/chunk-store.js";
import { decodeManifest, encodeManifest, type PayloadManifest } from "./payload-manifest.js";

const chunk = chunkAddress(new Uint8Array([1, 2, 3]));
const base: PayloadManifest = { v: 1, transfer: "tr_1", kind: "standard", chunks: [chunk], bytes: 3 };
const key = { kek: "0123456789abcdef", wrapped: Buffer.alloc(60, 7).toString("base64") };

function blobOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

describe("payload manifest", () => {
  it("carries the wrapped data key, and its address depends on it", () => {
    const withKey = encodeManifest({ ...base, key });
    expect(decodeManifest(withKey.blob)).toEqual({ ...base, key });
    const without = encodeManifest(base);
    expect(decodeManifest(without.blob)).toEqual(base);
    expect(withKey.address).not.toBe(without.address);
  });

  it.each([
    ["key not an object", "x"],
    ["extra field", { ...key, plain: "AAAA" }],
    ["kek not a KEK id", { ...key, kek: "XYZ" }],
    ["wrapped not base64", { ...key, wrapped: "not base64!" }],
    ["wrapped too long", { ...key, wrapped: "A".repeat(2048) }],
  ])("refuses a manifest whose key is wrong (%s)", (_what, bad) => {
    const blob = blobOf({ bytes: 3, chunks: [chunk], key: bad, kind: "standard", transfer: "tr_1", v: 1 });
    expect(() => decodeManifest(blob)).toThrow(
      expect.objectContaining({ code: "CLUSTER_PEER_REQUEST_INVALID" }),
    );
  });
});
