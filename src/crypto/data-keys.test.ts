import { createHash, randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateDataKey, type DataKeyErrorCode } from "./data-keys.js";
import {
  commitPendingKek,
  discardPendingKek,
  loadKek,
  pendingKekPath,
  readPendingKek,
  writePendingKek,
} from "./kek-file.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

let dir: string;
let kekPath: string;
let kekBytes: Buffer;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-kek-"));
  kekPath = join(dir, "kek.key");
  kekBytes = randomBytes(32);
  writeFileSync(kekPath, `${kekBytes.toString("base64")}\n`, { mode: 0o600 });
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function codeOf(run: () => unknown): Promise<DataKeyErrorCode | undefined> {
  try {
    await run();
  } catch (error) {
    return (error as { code?: DataKeyErrorCode }).code;
  }
  return undefined;
}

describe("loadKek", () => {
  it("names the key by the first 8 bytes of its SHA-256", async () => {
    const kek = await loadKek(kekPath);
    expect(kek.id).toBe(createHash("sha256").update(kekBytes).digest().subarray(0, 8).toString("hex"));
  });

  it.each([0o644, 0o640, 0o604, 0o660])(
    "when the file has mode %o → DATA_KEY_KEK_PERMISSIONS",
    async (mode) => {
      chmodSync(kekPath, mode);
      expect(await codeOf(() => loadKek(kekPath))).toBe("DATA_KEY_KEK_PERMISSIONS");
    },
  );

  it.each([
    ["31 bytes", `${randomBytes(31).toString("base64")}\n`],
    ["33 bytes", `${randomBytes(33).toString("base64")}\n`],
    ["base64 with garbage", `${randomBytes(32).toString("base64")}!\n`],
    ["two lines", `${randomBytes(32).toString("base64")}\n\n`],
    ["empty", ""],
  ])("when the key is %s → DATA_KEY_KEK_INVALID", async (_name, text) => {
    writeFileSync(kekPath, text, { mode: 0o600 });
    expect(await codeOf(() => loadKek(kekPath))).toBe("DATA_KEY_KEK_INVALID");
  });

  it("when the file is missing → DATA_KEY_KEK_UNREADABLE", async () => {
    expect(await codeOf(() => loadKek(join(dir, "none.key")))).toBe("DATA_KEY_KEK_UNREADABLE");
  });

  it("when a rotation left kek.key.new → DATA_KEY_KEK_ROTATING", async () => {
    writePendingKek(kekPath, random);
    expect(await codeOf(() => loadKek(kekPath))).toBe("DATA_KEY_KEK_ROTATING");
  });
});

describe("wrap and unwrap", () => {
  it("round-trips a data key as nonce ‖ ciphertext ‖ tag", async () => {
    const kek = await loadKek(kekPath);
    const dek = generateDataKey(random);
    const wrapped = kek.wrap(dek, "tr_1");
    expect(wrapped).toHaveLength(12 + 32 + 16);
    expect(Buffer.from(wrapped).includes(Buffer.from(dek))).toBe(false);
    expect(Buffer.from(kek.unwrap(wrapped, "tr_1"))).toEqual(Buffer.from(dek));
  });

  it("uses a fresh nonce per wrap", async () => {
    const kek = await loadKek(kekPath);
    const dek = generateDataKey(random);
    expect(Buffer.from(kek.wrap(dek, "tr_1"))).not.toEqual(Buffer.from(kek.wrap(dek, "tr_1")));
  });

  it("when unwrapped for another transfer → DATA_KEY_UNWRAP_FAILED", async () => {
    const kek = await loadKek(kekPath);
    const wrapped = kek.wrap(generateDataKey(random), "tr_1");
    expect(await codeOf(() => kek.unwrap(wrapped, "tr_2"))).toBe("DATA_KEY_UNWRAP_FAILED");
  });

  it.each([0, 12, 30, 59])(
    "when byte %i of the wrapped key is flipped → DATA_KEY_UNWRAP_FAILED",
    async (i) => {
      const kek = await loadKek(kekPath);
      const wrapped = Buffer.from(kek.wrap(generateDataKey(random), "tr_1"));
      wrapped[i] = (wrapped[i] ?? 0) ^ 1;
      expect(await codeOf(() => kek.unwrap(wrapped, "tr_1"))).toBe("DATA_KEY_UNWRAP_FAILED");
    },
  );

  it("when truncated or under another KEK → DATA_KEY_UNWRAP_FAILED", async () => {
    const kek = await loadKek(kekPath);
    const wrapped = kek.wrap(generateDataKey(random), "tr_1");
    const other = writePendingKek(kekPath, random);
    expect(await codeOf(() => kek.unwrap(wrapped.subarray(0, 59), "tr_1"))).toBe("DATA_KEY_UNWRAP_FAILED");
    expect(await codeOf(() => other.unwrap(wrapped, "tr_1"))).toBe("DATA_KEY_UNWRAP_FAILED");
  });

  it("when the data key is not 32 bytes → DATA_KEY_INVALID", async () => {
    const kek = await loadKek(kekPath);
    expect(await codeOf(() => kek.wrap(new Uint8Array(16), "tr_1"))).toBe("DATA_KEY_INVALID");
    expect(await codeOf(() => generateDataKey(() => new Uint8Array(16)))).toBe("DATA_KEY_INVALID");
  });

  it("refuses to wrap once kek.key was replaced (DATA_KEY_KEK_STALE) or while a rotation is pending", async () => {
    const kek = await loadKek(kekPath);
    const dek = generateDataKey(random);
    writePendingKek(kekPath, random);
    expect(await codeOf(() => kek.wrap(dek, "tr_1"))).toBe("DATA_KEY_KEK_ROTATING");
    commitPendingKek(kekPath);
    expect(await codeOf(() => kek.wrap(dek, "tr_1"))).toBe("DATA_KEY_KEK_STALE");
  });
});

describe("pending KEK files", () => {
  it("commit moves kek.key.new over kek.key and overwrites the old key's bytes", async () => {
    // A second name for the old inode shows what happened to its bytes after the rename.
    linkSync(kekPath, join(dir, "old-inode"));
    const pending = writePendingKek(kekPath, random);
    expect(readFileSync(pendingKekPath(kekPath)).length).toBe(45);
    commitPendingKek(kekPath);
    expect((await loadKek(kekPath)).id).toBe(pending.id);
    const oldInode = readFileSync(join(dir, "old-inode"));
    expect(oldInode.length).toBe(45);
    expect(oldInode.every((b) => b === 0)).toBe(true);
    expect(readFileSync(kekPath, "utf8")).not.toContain(kekBytes.toString("base64"));
  });

  it("commit without a pending file is a no-op (another process finished it)", async () => {
    const before = (await loadKek(kekPath)).id;
    commitPendingKek(kekPath);
    expect((await loadKek(kekPath)).id).toBe(before);
  });

  it("discard overwrites and removes kek.key.new and leaves kek.key", async () => {
    const pending = writePendingKek(kekPath, random);
    linkSync(pendingKekPath(kekPath), join(dir, "pending-inode"));
    expect(readPendingKek(kekPath)).toMatchObject({ id: pending.id });
    discardPendingKek(kekPath);
    expect(readPendingKek(kekPath)).toBeUndefined();
    expect(readFileSync(join(dir, "pending-inode")).every((b) => b === 0)).toBe(true);
    expect((await loadKek(kekPath)).id).toBe(
      createHash("sha256").update(kekBytes).digest().subarray(0, 8).toString("hex"),
    );
  });

  it("a torn kek.key.new reads as unparsable, and a second pending file is refused", async () => {
    writeFileSync(pendingKekPath(kekPath), "abc", { mode: 0o600 });
    expect(readPendingKek(kekPath)).toBe("unparsable");
    expect(await codeOf(() => writePendingKek(kekPath, random))).toBe("DATA_KEY_KEK_ROTATING");
    renameSync(pendingKekPath(kekPath), join(dir, "moved"));
    expect(readPendingKek(kekPath)).toBeUndefined();
  });
});
