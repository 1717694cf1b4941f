/**
 * An RFC 8785 (JCS) writer compiled from a zod schema, for values the schema's compiled check
 * (`compiled-check.ts`) accepted: each object's members are written in the key order JCS wants, sorted
 * once when compiling instead of on every call; literals and enum values are written from text prepared
 * in advance; safe integers with `String`; strings with `JSON.stringify` after the lone-surrogate test
 * (as `canonical-json.ts` does); a free-form JSON subtree (a record of `z.json()`) by `canonicalJson`.
 * The text is the same as `canonicalJson` gives for such values — `compiled-json.test.ts` compares them —
 * at a fraction of the cost, because nothing is sorted or inspected that the schema already fixed.
 * https://www.rfc-editor.org/rfc/rfc8785
 */
import type * as z from "zod";
import { canonicalJson } from "./canonical-json.js";

/** Writes the JCS text of a value the schema's compiled check accepted; undefined when not JSON data. */
export type JsonWriter = (value: unknown) => string | undefined;

interface Def {
  readonly type: string;
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly getter?: () => z.ZodType;
  readonly checks?: readonly {
    readonly _zod: { readonly def: { readonly check: string; readonly format?: string } };
  }[];
  readonly check?: string;
  readonly format?: string;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Thrown inside a writer when the value is not JSON data (a lone surrogate, a non-finite number). */
const NOT_JSON = new Error("not JSON data");

type Write = (value: unknown) => string;

/** Any UTF-16 surrogate code unit, then a lone one (as in `canonical-json.ts`). */
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Compiles the writer. Only for values the compiled check of the same schema accepted: the writer
 * relies on their shape (every key is a member of the shape, every value of its type).
 */
export function compileJsonWriter(schema: z.ZodType): JsonWriter {
  const write = new Compiler().compile(schema);
  return (value) => {
    try {
      return write(value);
    } catch (error) {
      if (error === NOT_JSON) return undefined;
      throw error;
    }
  };
}

const writeString: Write = (v) => {
  const s = v as string;
  if (ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s)) throw NOT_JSON;
  return JSON.stringify(s);
};

const writeAny: Write = (v) => {
  const text = canonicalJson(v);
  if (text === undefined) throw NOT_JSON;
  return text;
};

class Compiler {
  readonly #done = new Map<z.ZodType, Write>();

  compile(schema: z.ZodType): Write {
    const known = this.#done.get(schema);
    if (known !== undefined) return known;
    const slot: { write?: Write } = {};
    this.#done.set(schema, (v) => (slot.write as Write)(v));
    slot.write = this.#build(defOf(schema));
    this.#done.set(schema, slot.write);
    return slot.write;
  }

  #build(def: Def): Write {
    switch (def.type) {
      case "string":
        return writeString;
      case "number": {
        const integer = [def, ...(def.checks ?? []).map((c) => c._zod.def)].some(
          (c) => c.check === "number_format" && c.format === "safeint",
        );
        // A safe integer is written as String writes it (-0 as 0, as JSON.stringify does).
        return integer ? (v) => String(v) : writeAny;
      }
      case "boolean":
      case "null":
      case "literal":
      case "enum":
        // Primitive JSON values (literal and enum values are strings, numbers, booleans or null).
        return writeAny;
      case "optional":
        return this.compile(def.innerType as z.ZodType);
      case "lazy":
      case "record":
        // Free-form JSON: the general serialiser.
        return writeAny;
      case "array": {
        const element = this.compile(def.element as z.ZodType);
        return (v) => {
          const array = v as readonly unknown[];
          let out = "[";
          for (let i = 0; i < array.length; i++) out += (i > 0 ? "," : "") + element(array[i]);
          return `${out}]`;
        };
      }
      case "object":
        return this.#object(def);
      case "union":
        return this.#union(def);
      default:
        throw new Error(`compileJsonWriter: zod feature not supported: ${def.type}`);
    }
  }

  #object(def: Def): Write {
    const shape = def.shape ?? {};
    // JCS order: keys sorted by UTF-16 code units, Array.prototype.sort's default.
    const keys = Object.keys(shape).sort();
    const names = keys.map((k) => `${JSON.stringify(k)}:`);
    const members = keys.map((k) => this.compile(shape[k] as z.ZodType));
    const count = keys.length;
    return (v) => {
      const object = v as Record<string, unknown>;
      let out = "{";
      for (let i = 0; i < count; i++) {
        const member = object[keys[i] as string];
        if (member === undefined) continue;
        if (out.length > 1) out += ",";
        out += (names[i] as string) + (members[i] as Write)(member);
      }
      return `${out}}`;
    };
  }

  #union(def: Def): Write {
    const discriminator = def.discriminator;
    if (discriminator === undefined) return writeAny;
    const byValue = new Map<unknown, Write>();
    for (const option of def.options ?? []) {
      const member = defOf(option).shape?.[discriminator];
      const values = member === undefined ? [] : ((defOf(member) as { values?: unknown[] }).values ?? []);
      const write = this.compile(option);
      for (const literal of values) byValue.set(literal, write);
    }
    return (v) => {
      const write = byValue.get((v as Record<string, unknown>)[discriminator]);
      return write === undefined ? writeAny(v) : write(v);
    };
  }
}
