import { hash } from "@node-rs/argon2";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ARGON2_PARAMS,
  DEFAULT_COMMON_PASSWORDS_PATH,
  PASSWORD_MAX_LENGTH,
  TEMPORARY_PASSWORD_LENGTH,
  checkPasswordPolicy,
  generateTemporaryPassword,
  hashPassword,
  loadCommonPasswords,
  needsRehash,
  verifyPassword,
} from "./password.js";

const GOOD = "Tsuki-no-Usagi7";
const ctx = { loginId: "clinic-0042", institutionNumber: "1312345678" };

describe("hashPassword / verifyPassword", () => {
  it("produces an argon2id PHC string with ARGON2_PARAMS that verifies the password and nothing else", async () => {
    const phc = await hashPassword(GOOD);
    const { memoryCost: m, timeCost: t, parallelism: p } = ARGON2_PARAMS;
    expect(phc.startsWith(`$argon2id$v=19$m=${m},t=${t},p=${p}$`)).toBe(true);
    expect(await verifyPassword(phc, GOOD)).toBe(true);
    expect(await verifyPassword(phc, `${GOOD} `)).toBe(false);
    expect(await verifyPassword(phc, GOOD.toLowerCase())).toBe(false);
    expect(needsRehash(phc)).toBe(false);
  });

  it("salts: the same password hashes differently each time", async () => {
    const [a, b] = await Promise.all([hashPassword(GOOD), hashPassword(GOOD)]);
    expect(a).not.toBe(b);
  });

  it("returns false, never throws, for malformed or out-of-bounds hashes", async () => {
    const phc = await hashPassword(GOOD);
    const [, , , params, salt, tag] = phc.split("$") as [string, string, string, string, string, string];
    const malformed = [
      "",
      "not a hash",
      phc.slice(0, -1), // truncated tag
      `${phc}$`,
      phc.replace("argon2id", "argon2i"),
      phc.replace("v=19", "v=16"),
      `$argon2id$v=19$${params}$${salt}$${tag.replace(/./, "!")}`,
      `$argon2id$v=19$m=4194304,t=3,p=4$${salt}$${tag}`, // 4 GiB: refused before any allocation
      `$argon2id$v=19$m=65536,t=99,p=4$${salt}$${tag}`,
      `$argon2id$v=19$m=16,t=3,p=4$${salt}$${tag}`, // m < 8p
      `$argon2id$v=19$m=65536,t=3,p=0$${salt}$${tag}`,
      "$".repeat(10_000),
    ];
    for (const bad of malformed) {
      expect(await verifyPassword(bad, GOOD), bad.slice(0, 60)).toBe(false);
    }
    expect(needsRehash("not a hash")).toBe(true);
    expect(needsRehash(malformed[7] as string)).toBe(true);
  });

  it("verifies hashes made with other (older) parameters and flags them for rehash", async () => {
    const old = await hash(GOOD, {
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(await verifyPassword(old, GOOD)).toBe(true);
    expect(needsRehash(old)).toBe(true);
  });

  it("refuses absurdly long passwords without hashing them", async () => {
    const phc = await hashPassword(GOOD);
    expect(await verifyPassword(phc, GOOD + "x".repeat(2000))).toBe(false);
  });
});

describe("checkPasswordPolicy", () => {
  const codeOf = (pw: string, c: Parameters<typeof checkPasswordPolicy>[1] = ctx): string =>
    ((r) => (r.ok ? "OK" : r.code))(checkPasswordPolicy(pw, c));

  it("accepts 8+ printable ASCII characters mixing a letter, a digit and a symbol", () => {
    expect(codeOf(GOOD)).toBe("OK");
    expect(codeOf("zq7#Vbn2")).toBe("OK"); // exactly 8
    expect(codeOf("correct horse 7 battery!")).toBe("OK"); // spaces allowed
    expect(codeOf(`a1!${"Zx".repeat((PASSWORD_MAX_LENGTH - 4) / 2)}a`)).toBe("OK"); // exactly 128
  });

  it("length bounds → PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG", () => {
    expect(codeOf("zq7#Vbn")).toBe("PASSWORD_TOO_SHORT");
    expect(codeOf("")).toBe("PASSWORD_TOO_SHORT");
    expect(codeOf(`a1!${"Zx".repeat(63)}`)).toBe("PASSWORD_TOO_LONG"); // 129
  });

  it("full-width, non-ASCII and control characters → PASSWORD_INVALID_CHARACTERS", () => {
    for (const pw of [
      "Ｔsuki-no-7",
      "Tsuki-no-７",
      "tsuki-no-usagi7😀",
      "Tsuki\tno-7x",
      "Tsuki-no-7\n",
      "ｔｓｕｋｉ１２３！",
      "つきのうさぎ7!x",
      "Tsuki\u007fno-7",
    ]) {
      expect(codeOf(pw), JSON.stringify(pw)).toBe("PASSWORD_INVALID_CHARACTERS");
    }
  });

  it("a missing letter, digit or symbol → PASSWORD_NEEDS_MIX (a space is not a symbol)", () => {
    for (const pw of ["zqvbnmtrwx", "zqvbnmtr72", "zqvb#mtr!x", "48157236!#", "zqvb nmt 7"]) {
      expect(codeOf(pw), pw).toBe("PASSWORD_NEEDS_MIX");
    }
  });

  it("the login ID or institution number, any case, forwards or reversed → PASSWORD_CONTAINS_ID", () => {
    for (const pw of ["xCLINIC-0042!z", "z2400-cinilc#x", "Zz!1312345678", "Zz!8765432131"]) {
      expect(codeOf(pw), pw).toBe("PASSWORD_CONTAINS_ID");
    }
    // A very short ID is not used as a forbidden substring (it would forbid far too much).
    expect(codeOf(GOOD, { loginId: "Ts" })).toBe("OK");
    expect(codeOf(GOOD, { loginId: "Tsuki" })).toBe("PASSWORD_CONTAINS_ID");
  });

  it("common passwords, also with digits and symbols around them or in leet → PASSWORD_COMMON", () => {
    for (const pw of [
      "Password1!",
      "P@ssw0rd!",
      "p@ssw0rd123",
      "kenshin2024!",
      "Kenshin#1",
      "#1Kenshin!",
      "Sakura_123",
      "1qaz2WSX!",
      "Qwerty!2025",
      "K3n$h1n99",
    ]) {
      expect(codeOf(pw), pw).toBe("PASSWORD_COMMON");
    }
  });

  it("uses an injected list instead of the shipped one", () => {
    const list = new Set(["tsuki-no-usagi"]);
    expect(codeOf(GOOD, { ...ctx, commonPasswords: list })).toBe("PASSWORD_COMMON");
    expect(codeOf("Password1!", { ...ctx, commonPasswords: list })).toBe("OK");
  });

  it("messages are Japanese and never echo the password", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii", minLength: 6, maxLength: 40 }), (pw) => {
        const r = checkPasswordPolicy(pw, ctx);
        if (!r.ok) {
          expect(r.message).toMatch(/[\u3040-\u30ff\u4e00-\u9fff]/);
          expect(r.message.includes(pw)).toBe(false);
        }
      }),
    );
  });
});

describe("common-password list", () => {
  it("ships a few thousand lower-case entries and is loaded with their stems", () => {
    const lines = readFileSync(DEFAULT_COMMON_PASSWORDS_PATH, "utf8").trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(3000);
    expect(lines.every((l) => l === l.toLowerCase() && l.length >= 4)).toBe(true);
    const set = loadCommonPasswords();
    expect(set.has("p@ssw0rd")).toBe(true);
    expect(set.has("kenshin")).toBe(true);
    expect(set.size).toBeGreaterThanOrEqual(new Set(lines).size);
  });
});

describe("generateTemporaryPassword", () => {
  it("makes policy-passing passwords from an unambiguous alphabet", () => {
    for (let i = 0; i < 200; i++) {
      const pw = generateTemporaryPassword(randomBytes);
      expect(pw).toHaveLength(TEMPORARY_PASSWORD_LENGTH);
      expect(TEMPORARY_PASSWORD_LENGTH).toBeGreaterThanOrEqual(12);
      expect(pw).not.toMatch(/[0O1lIo\\~^`'"|]/);
      expect(checkPasswordPolicy(pw, ctx)).toEqual({ ok: true });
    }
  });

  it("is a pure function of the random bytes it is given", () => {
    const seeded = (seed: number) => {
      let s = seed;
      return (n: number) => Uint8Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
    };
    expect(generateTemporaryPassword(seeded(7))).toBe(generateTemporaryPassword(seeded(7)));
    expect(generateTemporaryPassword(seeded(7))).not.toBe(generateTemporaryPassword(seeded(8)));
  });

  it("throws rather than loop forever or return a weak password when the random source is broken", () => {
    expect(() => generateTemporaryPassword((n) => new Uint8Array(n))).toThrow();
    expect(() => generateTemporaryPassword((n) => new Uint8Array(n).fill(255))).toThrow();
  });
});
