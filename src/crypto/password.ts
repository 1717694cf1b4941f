/**
 * Passwords: argon2id hashing, the password policy and temporary passwords for resets.
 *
 * Policy. The MHLW 医療情報システムの安全管理に関するガイドライン 第6.0版 (システム運用編 §14 and Q&A
 * シQ-54) accepts a password of at least 8 characters mixing letters, digits and symbols when a second,
 * different factor is used; here that factor is the client certificate every connection must present, so
 * no forced rotation (which the same Q&A ties only to the password-alone case). §14 ⑥ asks that guessable
 * passwords be refused: we refuse the login ID, the institution number (also reversed) and a list of
 * common passwords. Only printable ASCII is accepted: the service is used from shared clinic PCs where a
 * Japanese IME is often on, and a full-width "Ａ" or "１" looks like its ASCII twin but hashes differently,
 * which would lock staff out with a password they "typed correctly"; refusing them up front with a clear
 * message is kinder than any normalisation we could guess at.
 */
import { hash, verify } from "@node-rs/argon2";
import { readFileSync } from "node:fs";

/**
 * argon2id cost parameters: the second recommended option of RFC 9106 §4 (64 MiB, 3 passes, 4 lanes),
 * which is also stronger than every OWASP Password Storage Cheat Sheet option (e.g. 19 MiB, t=2, p=1).
 * About 55 ms per hash on the project's idle 2-core machine (sequential hashes; 80 ms with p=1), inside
 * the ~100 ms login budget; each concurrent hash holds 64 MiB. Logins are rare and only reach this
 * behind a valid client certificate, so the cost cannot be driven by anonymous traffic. Salt 16 bytes
 * and tag 32 bytes are the library's defaults and RFC 9106's.
 * Hashes made with other parameters still verify (the PHC string carries them); see {@link needsRehash}.
 */
export const ARGON2_PARAMS: { memoryCost: number; timeCost: number; parallelism: number } = Object.freeze({
  memoryCost: 65536,
  timeCost: 3,
  parallelism: 4,
});

/** Hashes a password with argon2id and a fresh random salt; returns the PHC string `$argon2id$v=19$…`. */
export async function hashPassword(password: string): Promise<string> {
  // argon2id (RFC 9106 §4's recommended variant) is the library's default algorithm. We cannot name it:
  // the library's Algorithm is an ambient const enum, unreadable under verbatimModuleSyntax. The tests
  // assert the `$argon2id$` prefix, and verifyPassword accepts nothing else, so a changed default fails
  // loudly instead of silently weakening hashes.
  const phc = await hash(password, { ...ARGON2_PARAMS });
  if (!phc.startsWith("$argon2id$v=19$")) throw new Error("argon2 ライブラリが argon2id 以外で計算しました");
  return phc;
}

// Bounds for parameters read back from a stored hash: a corrupted or planted row must not make the
// verifier allocate gigabytes or spin for minutes. Generous enough for any realistic re-tuning.
const MAX_STORED_MEMORY_KIB = 1 << 20;
const MAX_STORED_TIME_COST = 16;
const MAX_STORED_PARALLELISM = 16;
const MAX_PHC_LENGTH = 256;
// Our own fixed pattern (never built from input) for the only variant we write: argon2id, version 0x13.
const PHC_RE =
  /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$[A-Za-z0-9+/]{11,64}\$[A-Za-z0-9+/]{22,128}$/;
// Verification work is linear in the password length; anything past this is not a password we issued.
const MAX_VERIFY_PASSWORD_LENGTH = 1024;

interface StoredParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

function parsePhc(phc: string): StoredParams | undefined {
  if (phc.length > MAX_PHC_LENGTH) return undefined;
  const m = PHC_RE.exec(phc);
  if (m === null) return undefined;
  const params = { memoryCost: Number(m[1]), timeCost: Number(m[2]), parallelism: Number(m[3]) };
  const ok =
    params.parallelism >= 1 &&
    params.parallelism <= MAX_STORED_PARALLELISM &&
    params.timeCost >= 1 &&
    params.timeCost <= MAX_STORED_TIME_COST &&
    params.memoryCost >= 8 * params.parallelism &&
    params.memoryCost <= MAX_STORED_MEMORY_KIB;
  return ok ? params : undefined;
}

/**
 * Checks a password against a stored PHC hash. Returns false, never throws, for a wrong password and for
 * a hash that is not an argon2id v19 PHC string within sane cost bounds.
 * Callers should still spend one verification on an unknown login ID (against a hash made at start-up)
 * so that response time does not reveal which IDs exist.
 */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  if (typeof phc !== "string" || typeof password !== "string") return false;
  if (password.length > MAX_VERIFY_PASSWORD_LENGTH || parsePhc(phc) === undefined) return false;
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}

/** True when a stored hash should be replaced (at the next successful login) by one with ARGON2_PARAMS. */
export function needsRehash(phc: string): boolean {
  const params = parsePhc(phc);
  return (
    params === undefined ||
    params.memoryCost !== ARGON2_PARAMS.memoryCost ||
    params.timeCost !== ARGON2_PARAMS.timeCost ||
    params.parallelism !== ARGON2_PARAMS.parallelism
  );
}

/** Why a password was refused. */
export type PasswordPolicyCode =
  | "PASSWORD_TOO_SHORT"
  | "PASSWORD_TOO_LONG"
  | "PASSWORD_NEEDS_MIX"
  | "PASSWORD_CONTAINS_ID"
  | "PASSWORD_COMMON"
  | "PASSWORD_INVALID_CHARACTERS";

/** Result of {@link checkPasswordPolicy}; the message is Japanese and never contains the password. */
export type PasswordPolicyResult = { ok: true } | { ok: false; code: PasswordPolicyCode; message: string };

/** What the policy compares a password against. */
export interface PasswordPolicyContext {
  loginId: string;
  /** The institution's 10-digit 健診機関番号 or receiver identifier, when it has one. */
  institutionNumber?: string;
  /** Lower-case common passwords; defaults to data/passwords/common.txt (see {@link loadCommonPasswords}). */
  commonPasswords?: ReadonlySet<string>;
}

/** Minimum length: MHLW 6.0 Q&A シQ-54 (c), 8 mixed characters with a second factor. */
export const PASSWORD_MIN_LENGTH = 8;
/** Maximum length: long enough for passphrases, short enough to bound hashing and comparison work. */
export const PASSWORD_MAX_LENGTH = 128;
// An ID or number shorter than this would forbid too many passwords by accident (every "a…" for ID "a").
const MIN_FORBIDDEN_LENGTH = 3;

const MESSAGES: Readonly<Record<PasswordPolicyCode, string>> = {
  PASSWORD_TOO_SHORT: `パスワードは${PASSWORD_MIN_LENGTH}文字以上にしてください`,
  PASSWORD_TOO_LONG: `パスワードは${PASSWORD_MAX_LENGTH}文字以内にしてください`,
  PASSWORD_INVALID_CHARACTERS:
    "パスワードに使えるのは半角の英字・数字・記号と空白だけです (全角文字は使えません。日本語入力をオフにしてください)",
  PASSWORD_NEEDS_MIX: "パスワードには英字・数字・記号をそれぞれ1文字以上含めてください",
  PASSWORD_CONTAINS_ID: "パスワードにログインIDや機関番号 (逆順も含む) を含めないでください",
  PASSWORD_COMMON: "よく使われるパスワードや推測されやすい語句は使えません",
};

function refuse(code: PasswordPolicyCode): PasswordPolicyResult {
  return { ok: false, code, message: MESSAGES[code] };
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
/** Printable ASCII that is neither a letter, a digit nor the space: the "記号" of the guideline. */
function isSymbol(c: number): boolean {
  return c > 0x20 && c < 0x7f && !isLetter(c) && !isDigit(c);
}

/**
 * Checks a new password against the policy (see the file header). Checks run cheapest first and the
 * first failure is reported.
 */
export function checkPasswordPolicy(password: string, context: PasswordPolicyContext): PasswordPolicyResult {
  if (password.length > PASSWORD_MAX_LENGTH) return refuse("PASSWORD_TOO_LONG");
  let letters = 0;
  let digits = 0;
  let symbols = 0;
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    // 0x20–0x7E only: no controls, no DEL, no full-width or other non-ASCII characters.
    if (c < 0x20 || c > 0x7e) return refuse("PASSWORD_INVALID_CHARACTERS");
    if (isLetter(c)) letters++;
    else if (isDigit(c)) digits++;
    else if (isSymbol(c)) symbols++;
  }
  if (password.length < PASSWORD_MIN_LENGTH) return refuse("PASSWORD_TOO_SHORT");
  if (letters === 0 || digits === 0 || symbols === 0) return refuse("PASSWORD_NEEDS_MIX");
  const lower = password.toLowerCase();
  for (const forbidden of [context.loginId, context.institutionNumber]) {
    if (forbidden === undefined || forbidden.length < MIN_FORBIDDEN_LENGTH) continue;
    const f = forbidden.toLowerCase();
    if (lower.includes(f) || lower.includes(reverse(f))) return refuse("PASSWORD_CONTAINS_ID");
  }
  if (isCommonPassword(lower, context.commonPasswords ?? defaultCommonPasswords())) {
    return refuse("PASSWORD_COMMON");
  }
  return { ok: true };
}

/** Reverses by UTF-16 code unit: enough here, as only an ASCII ID can occur in an ASCII password. */
function reverse(text: string): string {
  let out = "";
  for (let i = text.length - 1; i >= 0; i--) out += text.charAt(i);
  return out;
}

/** Strips digits and symbols from the end ("kenshin2024!" → "kenshin"). */
function stripTrailing(lower: string): string {
  let end = lower.length;
  while (end > 0 && !isLetter(lower.charCodeAt(end - 1))) end--;
  return lower.slice(0, end);
}

/** Strips digits and symbols from both ends ("#1kenshin!" → "kenshin"). */
function stripBothEnds(lower: string): string {
  const tail = stripTrailing(lower);
  let start = 0;
  while (start < tail.length && !isLetter(tail.charCodeAt(start))) start++;
  return tail.slice(start);
}

/**
 * True when the lower-cased password, or it with trailing (or leading and trailing) digits and symbols
 * removed, is on the list: appending "2024!" to a listed word does not make it safe.
 */
function isCommonPassword(lower: string, list: ReadonlySet<string>): boolean {
  for (const candidate of [lower, stripTrailing(lower), stripBothEnds(lower)]) {
    if (candidate.length > 0 && list.has(candidate)) return true;
  }
  return false;
}

/** Where the shipped list lives, in the source tree and in the published package alike. */
export const DEFAULT_COMMON_PASSWORDS_PATH = new URL("../../data/passwords/common.txt", import.meta.url);

/**
 * Reads a common-password list: one password per line, compared case-insensitively. Each entry is also
 * added with its trailing digits and symbols removed (when 4 or more characters remain), so "hell0!"
 * on the list catches "Hell0!!" as well as "hell0" itself.
 */
export function loadCommonPasswords(path: URL | string = DEFAULT_COMMON_PASSWORDS_PATH): ReadonlySet<string> {
  const set = new Set<string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const entry = line.trim().toLowerCase();
    if (entry.length === 0) continue;
    set.add(entry);
    const stem = stripTrailing(entry);
    if (stem.length >= 4) set.add(stem);
  }
  return set;
}

// The shipped list is read once, on first use, and never changes afterwards: a write-once cache of a
// read-only file, not configuration (callers who want another list pass `commonPasswords`).
let cachedCommonPasswords: ReadonlySet<string> | undefined;
function defaultCommonPasswords(): ReadonlySet<string> {
  cachedCommonPasswords ??= loadCommonPasswords();
  return cachedCommonPasswords;
}

/**
 * Characters of temporary passwords: read aloud on the phone or copied from paper, so no look-alikes
 * (0/O/o, 1/l/I) and only symbols that sit in the same place on JIS and US keyboards and survive an IME
 * (no \ which shows as ¥ on Japanese systems, no quotes, backquote, ^ or ~).
 */
const TEMP_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";
const TEMP_DIGITS = "23456789";
const TEMP_SYMBOLS = "!#$%&*+=?@";
const TEMP_ALPHABET = TEMP_LETTERS + TEMP_DIGITS + TEMP_SYMBOLS;
/** Length of temporary passwords: 16 characters of 66 ≈ 96 bits. */
export const TEMPORARY_PASSWORD_LENGTH = 16;
const MAX_ATTEMPTS = 64;

/**
 * Generates a temporary password for a reset: {@link TEMPORARY_PASSWORD_LENGTH} characters drawn
 * uniformly (rejection sampling, no modulo bias) from an unambiguous alphabet, redrawn until it passes
 * the policy (about one draw in five lacks a digit or a symbol).
 * @param randomBytes a cryptographic random source, e.g. node:crypto randomBytes
 * @throws Error when the random source keeps producing passwords that fail the policy (it is broken)
 */
export function generateTemporaryPassword(randomBytes: (n: number) => Uint8Array): string {
  const limit = 256 - (256 % TEMP_ALPHABET.length);
  // Each draw requests twice the bytes it needs; a draw that still comes up short (more than half the
  // bytes rejected, probability far below 2^-40 for a good source) counts as a failed attempt.
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let out = "";
    for (const b of randomBytes(TEMPORARY_PASSWORD_LENGTH * 2)) {
      if (b < limit && out.length < TEMPORARY_PASSWORD_LENGTH)
        out += TEMP_ALPHABET.charAt(b % TEMP_ALPHABET.length);
    }
    if (out.length === TEMPORARY_PASSWORD_LENGTH && checkPasswordPolicy(out, { loginId: "" }).ok) return out;
  }
  throw new Error("乱数源が不正です: 一時パスワードを生成できません");
}
