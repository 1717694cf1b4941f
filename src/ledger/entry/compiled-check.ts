/**
 * A zod schema compiled into a plain predicate for the ledger's hot paths (every append checks its
 * record, every fsck decodes every entry). The zod schema stays the one definition: this file reads its
 * definition (`schema._zod.def`, the introspection zod 4 offers library authors) and builds closures for
 * the parts the operation records use — strict objects, optional members, strings with length and
 * pattern checks, safe integers with bounds, literals, enums, arrays, string-keyed records, unions
 * (discriminated or not), lazy (recursive) schemas. Anything else makes {@link compileCheck} throw, so a
 * schema that grows a feature this file does not know fails loudly at start-up instead of being checked
 * loosely.
 *
 * The predicate answers `true` only when zod accepts the value **and** zod's output has the same content
 * as the value (no member zod would drop, such as a `__proto__` key in a record). Everything else —
 * invalid values, and the rare odd ones it does not decide (symbol keys in a record, non-plain objects
 * where zod wants a plain one) — answers `false`, and the caller asks zod itself, which then gives the
 * same result and the same issues as before. `compiled-check.test.ts` compares both on generated records.
 * https://zod.dev/library-authors
 */
import type * as z from "zod";

/** A compiled check: true when the value is valid and zod would return it unchanged. */
export type Check = (value: unknown) => boolean;

/**
 * The parts of a zod 4 definition this compiler reads. A format schema (`z.int()`, `z.email()`) is its
 * own check: its definition carries the check's fields too.
 */
interface Def extends Partial<CheckDef> {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: CheckDef } }[];
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly catchall?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly keyType?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly values?: readonly unknown[];
  readonly entries?: Readonly<Record<string, unknown>>;
  readonly getter?: () => z.ZodType;
}

interface CheckDef {
  readonly check: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly pattern?: RegExp;
  readonly value?: number;
  readonly inclusive?: boolean;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Compiles `schema` into a {@link Check}.
 * @throws Error when the schema uses a zod feature this compiler does not implement
 */
export function compileCheck(schema: z.ZodType, options: CompileOptions = {}): Check {
  return new Compiler(options.sortedKeys === true).compile(schema);
}

/** Options of {@link compileCheck}. */
export interface CompileOptions {
  /**
   * Also require every object's keys, in `Object.keys` order, to be strictly ascending by UTF-16 code
   * units (the order RFC 8785 writes them in) — one comparison per key in the pass that checks them
   * anyway. fsck's decoding uses it: a parsed entry it accepts needs no separate walk for key order.
   */
  readonly sortedKeys?: boolean;
}

class Compiler {
  readonly #done = new Map<z.ZodType, Check>();
  readonly #sorted: boolean;

  constructor(sorted: boolean) {
    this.#sorted = sorted;
  }

  compile(schema: z.ZodType): Check {
    const known = this.#done.get(schema);
    if (known !== undefined) return known;
    // A recursive schema reaches itself through `lazy`: the slot is filled before its body is compiled.
    const slot: { check?: Check } = {};
    this.#done.set(schema, (value) => (slot.check as Check)(value));
    slot.check = this.#build(defOf(schema));
    this.#done.set(schema, slot.check);
    return slot.check;
  }

  #build(def: Def): Check {
    switch (def.type) {
      case "string":
        return withChecks(def, (v) => typeof v === "string", stringCheck);
      case "number":
        return withChecks(def, (v) => typeof v === "number" && Number.isFinite(v), numberCheck);
      case "boolean":
        return noChecks(def, (v) => typeof v === "boolean");
      case "null":
        return noChecks(def, (v) => v === null);
      case "never":
        return noChecks(def, () => false);
      case "literal": {
        const values = new Set(def.values);
        return noChecks(def, (v) => values.has(v));
      }
      case "enum": {
        const values = new Set(Object.values(def.entries ?? {}));
        return noChecks(def, (v) => values.has(v));
      }
      case "optional": {
        const inner = this.compile(def.innerType as z.ZodType);
        return noChecks(def, (v) => v === undefined || inner(v));
      }
      case "lazy": {
        const getter = def.getter as () => z.ZodType;
        let inner: Check | undefined;
        return noChecks(def, (v) => (inner ??= this.compile(getter()))(v));
      }
      case "array": {
        const element = this.compile(def.element as z.ZodType);
        return withChecks(
          def,
          (v) => {
            // Members besides the elements (never in parsed JSON) would not be in zod's copy.
            if (!Array.isArray(v) || Object.keys(v).length !== v.length) return false;
            for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
            return true;
          },
          lengthCheck,
        );
      }
      case "object":
        return noChecks(def, this.#object(def));
      case "record":
        return noChecks(def, this.#record(def));
      case "union":
        return noChecks(def, this.#union(def));
      default:
        throw unsupported(def.type);
    }
  }

  #object(def: Def): Check {
    if (def.catchall !== undefined && defOf(def.catchall).type !== "never") throw unsupported("catchall");
    const shape = def.shape ?? {};
    const keys = Object.keys(shape);
    if (Object.getOwnPropertySymbols(shape).length > 0) throw unsupported("symbol keys");
    const known = new Set(keys);
    const members = keys.map((key) => this.compile(shape[key] as z.ZodType));
    const count = keys.length;
    const sorted = this.#sorted;
    return (v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
      const object = v as Record<string, unknown>;
      for (let i = 0; i < count; i++) {
        if (!(members[i] as Check)(object[keys[i] as string])) return false;
      }
      // Strict or strip: any other key is refused or dropped by zod, so it is not "valid unchanged".
      if (!sorted) {
        for (const key in object) if (!known.has(key)) return false;
        return true;
      }
      let previous: string | undefined;
      for (const key in object) {
        if (!known.has(key) || (previous !== undefined && key <= previous)) return false;
        previous = key;
      }
      return true;
    };
  }

  #record(def: Def): Check {
    const keyDef = defOf(def.keyType as z.ZodType);
    if (keyDef.type !== "string" || (keyDef.checks?.length ?? 0) > 0) throw unsupported("record key");
    const value = this.compile(def.valueType as z.ZodType);
    const sorted = this.#sorted;
    return (v) => {
      if (!isPlainObject(v)) return false;
      if (Object.getOwnPropertySymbols(v).length > 0) return false;
      const object = v as Record<string, unknown>;
      let previous: string | undefined;
      for (const key in object) {
        // zod skips (drops) a __proto__ member; inherited members are not its input at all.
        if (key === "__proto__" || !Object.prototype.hasOwnProperty.call(object, key)) return false;
        if (sorted && previous !== undefined && key <= previous) return false;
        previous = key;
        if (!value(object[key])) return false;
      }
      return true;
    };
  }

  #union(def: Def): Check {
    const options = (def.options ?? []).map((o) => this.compile(o));
    const discriminator = def.discriminator;
    if (discriminator === undefined) {
      return (v) => {
        for (const option of options) if (option(v)) return true;
        return false;
      };
    }
    const byValue = new Map<unknown, Check>();
    (def.options ?? []).forEach((option, i) => {
      const member = defOf(option).shape?.[discriminator];
      const memberDef = member === undefined ? undefined : defOf(member);
      if (memberDef?.type !== "literal") throw unsupported("discriminator");
      for (const literal of memberDef.values ?? []) byValue.set(literal, options[i] as Check);
    });
    return (v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
      const option = byValue.get((v as Record<string, unknown>)[discriminator]);
      return option !== undefined && option(v);
    };
  }
}

function isPlainObject(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const prototype: unknown = Object.getPrototypeOf(v);
  return prototype === Object.prototype || prototype === null;
}

/** One refinement of a string, number or array as zod 4 defines it (`checks` in its definition). */
type Refinement = (def: CheckDef) => (v: never) => boolean;

const stringCheck: Refinement = (c) => {
  if (c.check === "string_format" && c.format === "regex" && c.pattern instanceof RegExp) {
    const pattern = c.pattern;
    if (pattern.global || pattern.sticky) {
      return (v: string) => {
        pattern.lastIndex = 0;
        return pattern.test(v);
      };
    }
    return (v: string) => pattern.test(v);
  }
  return lengthCheck(c);
};

const lengthCheck: Refinement = (c) => {
  const bound = c.check === "min_length" ? c.minimum : c.check === "max_length" ? c.maximum : undefined;
  if (bound === undefined) throw unsupported(c.check);
  return c.check === "min_length"
    ? (v: { length: number }) => v.length >= bound
    : (v: { length: number }) => v.length <= bound;
};

const numberCheck: Refinement = (c) => {
  if (c.check === "number_format" && c.format === "safeint") return (v: number) => Number.isSafeInteger(v);
  const bound = c.value;
  if (bound === undefined) throw unsupported(c.check);
  if (c.check === "greater_than") {
    return c.inclusive === true ? (v: number) => v >= bound : (v: number) => v > bound;
  }
  if (c.check === "less_than") {
    return c.inclusive === true ? (v: number) => v <= bound : (v: number) => v < bound;
  }
  throw unsupported(c.check);
};

function withChecks(def: Def, base: Check, refinement: Refinement): Check {
  const defs = [
    ...(def.check !== undefined ? [def as CheckDef] : []),
    ...(def.checks ?? []).map((c) => c._zod.def),
  ];
  const refinements = defs.map((c) => refinement(c) as (v: unknown) => boolean);
  if (refinements.length === 0) return base;
  return (v) => {
    if (!base(v)) return false;
    for (const r of refinements) if (!r(v)) return false;
    return true;
  };
}

function noChecks(def: Def, check: Check): Check {
  if ((def.checks?.length ?? 0) > 0 || def.check !== undefined) throw unsupported(`${def.type} checks`);
  return check;
}

function unsupported(what: string): Error {
  return new Error(`compileCheck: zod feature not supported: ${what}`);
}
