/**
 * A zod schema compiled into a one-pass check over the **bytes** of a stored entry: does this text,
 * exactly as it is, parse as JSON, follow RFC 8785 (JCS) and satisfy the schema? For fsck, which reads
 * every entry of the log: instead of UTF-8 decoding, `JSON.parse`, a canonical-form scan and the compiled
 * check of the parsed value (`canonical-entry.ts` `decodeEntry`), the bytes are walked once with the
 * schema in hand and nothing is built but the few strings a pattern must see.
 *
 * It accepts only **plain** canonical text, the form every entry the service writes has: ASCII without
 * backslash or control characters (so each string is its own JCS form), no whitespace, integers of at most
 * 15 digits without a leading zero or a minus zero (written as ECMAScript writes their value), every
 * object's keys strictly ascending (JCS order for ASCII keys; strictly, so no duplicate), nothing after the
 * value. Such text is the JCS form of what `JSON.parse` makes of it, so a text this check accepts is one
 * `decodeEntry` returns unchanged.
 *
 * `null` decides nothing: anything else — escapes, non-ASCII, fractions, whitespace, a member the schema
 * does not know, free-form JSON (`z.json()`, records, lazy schemas), a value out of bounds — goes to
 * `decodeEntry`, which gives the verdict and the error code. `compiled-bytes-check.test.ts` compares both
 * on generated records and on damaged bytes. https://www.rfc-editor.org/rfc/rfc8785
 */
import type * as z from "zod";
import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  MINUS,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
  ZERO,
  ascii,
  isLowerHex64,
  isPlain,
  keyIs,
  matchAt,
  scanInteger,
  scanPlainString,
  skipValue,
} from "./plain-json-bytes.js";

/** What an accepted entry is: its discriminator value and where the captured member's value starts. */
export interface BytesCheckResult {
  /** The value of the union's discriminator (`type` of an operation record). */
  readonly kind: string;
  /** Offset of the captured top-level member's value (its opening quote for a string), or -1 if absent. */
  readonly capturedAt: number;
}

/** A compiled check: the result for plain canonical text that satisfies the schema, else null. */
export type BytesCheck = (bytes: Uint8Array) => BytesCheckResult | null;

/** Options of {@link compileBytesCheck}. */
export interface BytesCheckOptions {
  /** A top-level member whose value's offset the result gives (fsck: `prev`). */
  readonly capture: string;
  /** Longest text looked at; longer is left undecided. */
  readonly maxBytes: number;
}

/** Scans one value from `i`; returns the offset after it, or -1 (not decided here). */
type Scan = (b: Buffer, i: number, n: number) => number;

interface Def {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: CheckDef } }[];
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly catchall?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly values?: readonly unknown[];
  readonly entries?: Readonly<Record<string, unknown>>;
  readonly check?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly pattern?: RegExp;
  readonly value?: number;
  readonly inclusive?: boolean;
}

type CheckDef = Omit<Def, "type" | "checks"> & { readonly check: string };

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const HEX_PATTERN = "^[0-9a-f]{64}$";

/**
 * Compiles `schema`, a discriminated union of strict objects (the operation records), into a
 * {@link BytesCheck}.
 * @throws Error when the schema uses a zod feature this compiler does not implement
 */
export function compileBytesCheck(schema: z.ZodType, options: BytesCheckOptions): BytesCheck {
  const def = defOf(schema);
  const discriminator = def.discriminator;
  if (def.type !== "union" || discriminator === undefined) throw unsupported("top level");
  const optionDefs = (def.options ?? []).map(defOf);
  for (const option of optionDefs) {
    if (option.type !== "object") throw unsupported("union option");
    if (option.catchall !== undefined && defOf(option.catchall).type !== "never")
      throw unsupported("catchall");
  }
  // Every option's members in one sorted list: the text's keys are matched against it in one pass.
  const keys = [...new Set(optionDefs.flatMap((o) => Object.keys(o.shape ?? {})))].filter(isPlain).sort();
  const names = keys.map(ascii);
  const count = keys.length;
  // A member every option that has it types with the same schema (the common ones) is checked as it is
  // met; the others are skipped and checked once the discriminator names the option.
  const shared = keys.map((key) => {
    const schemas = new Set(optionDefs.map((o) => o.shape?.[key]).filter((m) => m !== undefined));
    return schemas.size === 1 ? compile([...schemas][0] as z.ZodType) : null;
  });
  const byKind = new Map<string, { readonly scans: (Scan | null)[]; readonly required: boolean[] }>();
  for (const option of optionDefs) {
    const shape = option.shape ?? {};
    const kindDef = shape[discriminator] === undefined ? undefined : defOf(shape[discriminator]);
    if (kindDef?.type !== "literal") throw unsupported("discriminator");
    const plan = {
      scans: keys.map((key) => (shape[key] === undefined ? null : compile(shape[key]))),
      required: keys.map((key) => shape[key] !== undefined && defOf(shape[key]).type !== "optional"),
    };
    // A member whose name is not plain can never be matched: such an option stays undecided.
    if (Object.keys(shape).some((key) => !isPlain(key) && defOf(shape[key] as z.ZodType).type !== "optional"))
      continue;
    for (const literal of kindDef.values ?? []) {
      if (typeof literal === "string" && isPlain(literal)) byKind.set(literal, plan);
    }
  }
  const kindIndex = keys.indexOf(discriminator);
  const capturedIndex = keys.indexOf(options.capture);
  const maxBytes = options.maxBytes;
  // Where each member's value starts and ends in the text being checked (-1: absent). Reused: a check
  // runs to its end synchronously.
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  return (bytes) => {
    const n = bytes.length;
    if (n > maxBytes || bytes[0] !== OPEN_OBJECT || kindIndex < 0) return null;
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, n);
    starts.fill(-1);
    let i = 1;
    let next = 0;
    for (;;) {
      if (b[i] !== QUOTE) return null;
      const keyEnd = scanPlainString(b, i, n);
      if (keyEnd < 0) return null;
      // The names are sorted, and so must the text's keys be: one pointer walks both.
      while (next < count && !keyIs(b, i, keyEnd, names[next] as Uint8Array)) next++;
      if (next === count || b[keyEnd] !== COLON) return null;
      const scan = shared[next];
      const end =
        scan === null || scan === undefined ? skipValue(b, keyEnd + 1, n, 1) : scan(b, keyEnd + 1, n);
      if (end < 0) return null;
      starts[next] = keyEnd + 1;
      ends[next] = end;
      next++;
      i = end;
      if (b[i] === COMMA) i++;
      else if (b[i] === CLOSE_OBJECT) break;
      else return null;
    }
    const kindAt = starts[kindIndex] as number;
    if (i + 1 !== n || kindAt < 0 || b[kindAt] !== QUOTE) return null;
    const kind = b.toString("latin1", kindAt + 1, (ends[kindIndex] as number) - 1);
    const plan = byKind.get(kind);
    if (plan === undefined) return null;
    // The option's own members: each present one its own, every required one present.
    for (let k = 0; k < count; k++) {
      const at = starts[k] as number;
      if (at < 0) {
        if (plan.required[k] === true) return null;
        continue;
      }
      const scan = plan.scans[k];
      if (scan === null || scan === undefined) return null;
      if (shared[k] === null && scan(b, at, n) !== ends[k]) return null;
    }
    return { kind, capturedAt: capturedIndex < 0 ? -1 : (starts[capturedIndex] as number) };
  };
}

/** The scanner of one schema node; recursive schemas (`lazy`) are free-form and left undecided. */
function compile(schema: z.ZodType): Scan {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
      return stringScan(def);
    case "number":
      return numberScan(def);
    case "boolean":
      return noChecks(def, literalScan([true, false]));
    case "null":
      return noChecks(def, literalScan([null]));
    case "never":
      return noChecks(def, () => -1);
    case "literal":
      return noChecks(def, literalScan(def.values ?? []));
    case "enum":
      return noChecks(def, literalScan(Object.values(def.entries ?? {})));
    case "optional":
      // Absent is the object's business; present, the value is the inner type's.
      return noChecks(def, compile(def.innerType as z.ZodType));
    case "array":
      return arrayScan(def, compile(def.element as z.ZodType));
    case "object":
      return noChecks(def, objectScan(def));
    case "lazy":
    case "record":
    case "union":
      // Free-form or nested unions: `decodeEntry` decides.
      return () => -1;
    default:
      throw unsupported(def.type);
  }
}

/** A strict object: keys strictly ascending, each a member of the shape, every required one present. */
function objectScan(def: Def): Scan {
  if (def.catchall !== undefined && defOf(def.catchall).type !== "never") throw unsupported("catchall");
  const shape = def.shape ?? {};
  // JCS order; a member whose name is not plain can never be matched, so its objects stay undecided.
  const keys = Object.keys(shape).sort();
  const names = keys.map((k) => (isPlain(k) ? ascii(k) : null));
  const scans = keys.map((k) => compile(shape[k] as z.ZodType));
  const required = keys.map((k) => defOf(shape[k] as z.ZodType).type !== "optional");
  const count = keys.length;
  return (b, i, n) => {
    if (b[i] !== OPEN_OBJECT) return -1;
    i++;
    let next = 0;
    if (b[i] === CLOSE_OBJECT) {
      for (; next < count; next++) if (required[next] === true) return -1;
      return i + 1;
    }
    for (;;) {
      if (b[i] !== QUOTE) return -1;
      const keyEnd = scanPlainString(b, i, n);
      if (keyEnd < 0) return -1;
      // The shape's names are sorted, and so must the text's keys be: one pointer walks both.
      while (next < count && !keyIs(b, i, keyEnd, names[next] ?? null)) {
        if (required[next] === true) return -1;
        next++;
      }
      if (next === count || b[keyEnd] !== COLON) return -1;
      i = (scans[next] as Scan)(b, keyEnd + 1, n);
      next++;
      if (i < 0) return -1;
      if (b[i] === COMMA) i++;
      else if (b[i] === CLOSE_OBJECT) break;
      else return -1;
    }
    for (; next < count; next++) if (required[next] === true) return -1;
    return i + 1;
  };
}

function arrayScan(def: Def, element: Scan): Scan {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const c of checksOf(def)) {
    if (c.check === "min_length" && c.minimum !== undefined) min = Math.max(min, c.minimum);
    else if (c.check === "max_length" && c.maximum !== undefined) max = Math.min(max, c.maximum);
    else throw unsupported(c.check);
  }
  return (b, i, n) => {
    if (b[i] !== OPEN_ARRAY) return -1;
    i++;
    let length = 0;
    if (b[i] !== CLOSE_ARRAY) {
      for (;;) {
        i = element(b, i, n);
        if (i < 0) return -1;
        length++;
        if (b[i] === COMMA) i++;
        else if (b[i] === CLOSE_ARRAY) break;
        else return -1;
      }
    }
    return length >= min && length <= max ? i + 1 : -1;
  };
}

function stringScan(def: Def): Scan {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  let hex64 = false;
  const patterns: RegExp[] = [];
  for (const c of checksOf(def)) {
    if (c.check === "min_length" && c.minimum !== undefined) min = Math.max(min, c.minimum);
    else if (c.check === "max_length" && c.maximum !== undefined) max = Math.min(max, c.maximum);
    else if (c.check === "string_format" && c.format === "regex" && c.pattern instanceof RegExp) {
      // The SHA-256 pattern is every entry's commonest: checked on the bytes without making a string.
      if (c.pattern.source === HEX_PATTERN && c.pattern.flags === "") hex64 = true;
      else patterns.push(c.pattern);
    } else throw unsupported(c.check);
  }
  return (b, i, n) => {
    if (b[i] !== QUOTE) return -1;
    const end = scanPlainString(b, i, n);
    if (end < 0) return -1;
    // ASCII only: the byte length is the UTF-16 length zod counts.
    const length = end - i - 2;
    if (length < min || length > max) return -1;
    if (hex64 && !isLowerHex64(b, i + 1, length)) return -1;
    if (patterns.length > 0) {
      const text = b.toString("latin1", i + 1, end - 1);
      for (const pattern of patterns) {
        pattern.lastIndex = 0;
        if (!pattern.test(text)) return -1;
      }
    }
    return end;
  };
}

function numberScan(def: Def): Scan {
  const tests: ((v: number) => boolean)[] = [];
  for (const c of checksOf(def)) {
    if (c.check === "number_format" && c.format === "safeint") continue; // ≤ 15 digits: always safe
    const bound = c.value;
    if (bound === undefined) throw unsupported(c.check);
    if (c.check === "greater_than") tests.push(c.inclusive === true ? (v) => v >= bound : (v) => v > bound);
    else if (c.check === "less_than") tests.push(c.inclusive === true ? (v) => v <= bound : (v) => v < bound);
    else throw unsupported(c.check);
  }
  return (b, i, n) => {
    const end = scanInteger(b, i, n);
    if (end < 0) return -1;
    if (tests.length > 0) {
      let value = 0;
      for (let j = b[i] === MINUS ? i + 1 : i; j < end; j++) value = value * 10 + ((b[j] as number) - ZERO);
      if (b[i] === MINUS) value = -value;
      for (const test of tests) if (!test(value)) return -1;
    }
    return end;
  };
}

/** Literal and enum values: their JCS texts compared byte for byte (only plain ones can match). */
function literalScan(values: readonly unknown[]): Scan {
  const texts: Uint8Array[] = [];
  for (const value of values) {
    const text =
      value === null || typeof value === "boolean"
        ? String(value)
        : typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0)
          ? String(value)
          : typeof value === "string" && isPlain(value)
            ? `"${value}"`
            : undefined;
    if (text !== undefined) texts.push(ascii(text));
  }
  return (b, i, n) => {
    for (const text of texts) {
      const end = matchAt(b, i, n, text);
      if (end >= 0) return end;
    }
    return -1;
  };
}

function checksOf(def: Def): CheckDef[] {
  return [
    ...(def.check !== undefined ? [def as CheckDef] : []),
    ...(def.checks ?? []).map((c) => c._zod.def),
  ];
}

function noChecks(def: Def, scan: Scan): Scan {
  if ((def.checks?.length ?? 0) > 0 || def.check !== undefined) throw unsupported(`${def.type} checks`);
  return scan;
}

function unsupported(what: string): Error {
  return new Error(`compileBytesCheck: zod feature not supported: ${what}`);
}
