/**
 * RFC 8785 (JCS) serialisation of JSON data, written for the ledger's hot path: object keys sorted by
 * UTF-16 code units (`Array.prototype.sort`'s default order), numbers and strings exactly as ECMAScript's
 * `JSON.stringify` writes them (which is what JCS specifies), no whitespace. It produces the same text as
 * the `canonicalize` package (the property test in `canonical-json.test.ts` compares them) at about a
 * third of the cost, because it neither tracks cycles nor scans strings character by character: the
 * values it receives are JSON data (parsed JSON or schema-checked records), and lone surrogates are found
 * with one regular-expression test per string.
 * https://www.rfc-editor.org/rfc/rfc8785
 */

/** Any UTF-16 surrogate code unit (cheap first test; almost every string has none). */
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
/** A lone (unpaired) UTF-16 surrogate; in a `u` regular expression paired ones are one code point. */
const LONE_SURROGATE = /\p{Surrogate}/u;
/** In JSON text: a \u escape of a surrogate (JSON.stringify writes lone surrogates so). */
const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;

/**
 * The JCS text of `value`, or undefined when it is not JSON data (NaN, ±Infinity, a lone surrogate, a
 * function, a symbol, a bigint, undefined at the top level). Undefined object members are skipped and
 * undefined array elements become null, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string | undefined {
  try {
    return write(value);
  } catch (error) {
    if (error === NOT_JSON) return undefined;
    throw error;
  }
}

const NOT_JSON = new Error("not JSON data");

function write(value: unknown): string {
  switch (typeof value) {
    case "string":
      if (ANY_SURROGATE.test(value) && LONE_SURROGATE.test(value)) throw NOT_JSON;
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw NOT_JSON;
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (i > 0) out += ",";
          out += item === undefined ? "null" : write(item);
        }
        return `${out}]`;
      }
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object);
      if (!sorted(keys)) keys.sort();
      let out = "{";
      let first = true;
      for (const key of keys) {
        const member = object[key];
        if (member === undefined) continue;
        if (!first) out += ",";
        first = false;
        out += `${write(key)}:${write(member)}`;
      }
      return `${out}}`;
    }
    case "bigint":
    case "function":
    case "symbol":
    case "undefined":
      throw NOT_JSON;
  }
}

function sorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) >= (keys[i] as string)) return false;
  return true;
}

/**
 * Whether `text` is the JCS form of `parsed` (= `JSON.parse(text)`): the same answer as
 * `canonicalJson(parsed) === text`, found cheaply for the usual case. When `JSON.stringify` — which
 * writes members in `Object.keys` order, numbers and strings as JCS does — reproduces the text exactly,
 * every object's keys are in sorted order and the text escapes no surrogate, the text is the JCS form;
 * anything else (integer-like keys that the engine reorders, escapes, duplicates) is decided by the full
 * serialisation.
 */
export function isCanonicalText(parsed: unknown, text: string): boolean {
  if (JSON.stringify(parsed) === text && keysSortedDeep(parsed) && !ESCAPED_SURROGATE.test(text)) return true;
  return canonicalJson(parsed) === text;
}

/**
 * {@link isCanonicalText} for a parsed value already known to have every object's keys in ascending
 * order (`compileCheck(…, { sortedKeys: true })` accepted it): the same answer without the walk.
 */
export function isCanonicalSortedText(parsed: unknown, text: string): boolean {
  if (JSON.stringify(parsed) === text && !ESCAPED_SURROGATE.test(text)) return true;
  return canonicalJson(parsed) === text;
}

function keysSortedDeep(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!keysSortedDeep(item)) return false;
    return true;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (!sorted(keys)) return false;
  for (const key of keys) if (!keysSortedDeep(object[key])) return false;
  return true;
}
