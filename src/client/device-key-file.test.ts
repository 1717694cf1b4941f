import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { verifyDeviceSignature } from "../service/identity/device-signature.js";
import { createDeviceKeyFile, loadDeviceKeyFile } from "./device-key-file.js";
import { deviceIdFromJwk } from "./device-key.js";
import { sha256Hex, signRequest } from "./request-signing.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-device-key-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const fresh = (): string => join(dir, `device-${++n}.jwk`);

describe("device key files", () => {
  it("create writes a 0600 private JWK; load gives a non-extractable key whose signatures verify", async () => {
    const path = fresh();
    const created = await createDeviceKeyFile(path);
    if (process.platform !== "win32") expect(statSync(path).mode & 0o777).toBe(0o600);
    const onDisk = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    expect(Object.keys(onDisk).sort()).toEqual(["crv", "d", "kty", "x", "y"]);
    expect(created.privateKey.extractable).toBe(false);

    const loaded = await loadDeviceKeyFile(path);
    expect(loaded.privateKey.extractable).toBe(false);
    expect(loaded.publicJwk).toEqual(created.publicJwk);
    expect(loaded.deviceId).toBe(created.deviceId);
    expect(loaded.deviceId).toBe(await deviceIdFromJwk(loaded.publicJwk));

    const now = Date.UTC(2026, 3, 1);
    const header = await signRequest({
      method: "POST",
      path: "/api/x",
      privateKey: loaded.privateKey,
      deviceId: loaded.deviceId,
      now,
    });
    const result = await verifyDeviceSignature({
      header,
      method: "POST",
      path: "/api/x",
      bodySha256Hex: await sha256Hex(new Uint8Array()),
      publicJwk: created.publicJwk,
      now,
      maxSkewMs: 60_000,
    });
    expect(result).toMatchObject({ ok: true, deviceId: created.deviceId });
  });

  it("never overwrites an existing file → CRYPTO_KEY_FILE_EXISTS", async () => {
    const path = fresh();
    await createDeviceKeyFile(path);
    const before = readFileSync(path, "utf8");
    await expect(createDeviceKeyFile(path)).rejects.toMatchObject({ code: "CRYPTO_KEY_FILE_EXISTS" });
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it.skipIf(process.platform === "win32")(
    "refuses a key file others can read → CRYPTO_KEY_INVALID",
    async () => {
      const path = fresh();
      await createDeviceKeyFile(path);
      chmodSync(path, 0o644);
      await expect(loadDeviceKeyFile(path)).rejects.toMatchObject({ code: "CRYPTO_KEY_INVALID" });
    },
  );

  it("refuses a missing file → CRYPTO_KEY_FILE_UNREADABLE", async () => {
    await expect(loadDeviceKeyFile(join(dir, "missing.jwk"))).rejects.toMatchObject({
      code: "CRYPTO_KEY_FILE_UNREADABLE",
    });
  });

  it("refuses damaged files → CRYPTO_KEY_INVALID", async () => {
    const a = fresh();
    const b = fresh();
    await createDeviceKeyFile(a);
    await createDeviceKeyFile(b);
    const ja = JSON.parse(readFileSync(a, "utf8")) as Record<string, string>;
    const jb = JSON.parse(readFileSync(b, "utf8")) as Record<string, string>;
    const damaged: unknown[] = [
      "not json",
      null,
      { ...ja, d: undefined }, // public only
      { ...ja, d: jb.d }, // private part of another key
      { ...ja, d: "AAAA" },
      { ...ja, crv: "P-384" },
      { ...ja, x: jb.x }, // off-curve or mismatched point
    ];
    for (const content of damaged) {
      const path = fresh();
      writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content), { mode: 0o600 });
      await expect(loadDeviceKeyFile(path), JSON.stringify(content)).rejects.toMatchObject({
        code: "CRYPTO_KEY_INVALID",
      });
    }
    const huge = fresh();
    writeFileSync(huge, " ".repeat(10_000), { mode: 0o600 });
    await expect(loadDeviceKeyFile(huge)).rejects.toMatchObject({ code: "CRYPTO_KEY_INVALID" });
  });
});
