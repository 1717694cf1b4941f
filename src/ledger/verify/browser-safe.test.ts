import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The verify part must run in the browser: starting from every file in ledger/verify (and the entry
 * format, which the browser decodes), follow relative imports and require that nothing reached imports
 * node:* or any package other than the pure ones listed.
 */
const ALLOWED_PACKAGES = [/^@noble\/hashes\//, /^@noble\/curves\//, /^canonicalize$/, /^zod$/];
const here = dirname(fileURLToPath(import.meta.url));
const srcRoot = resolve(here, "../..");

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

function roots(): string[] {
  const dirs = [here, resolve(here, "../entry")];
  return dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => join(d, f)),
  );
}

describe("ledger/verify is browser-safe", () => {
  it("imports nothing from node:* and only pure packages, transitively", () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const queue = roots();
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith(".")) {
          queue.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        } else if (!ALLOWED_PACKAGES.some((re) => re.test(spec))) {
          bad.push(`${relative(srcRoot, file)} → ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
    // The walk really covered the verify files and what they pull in.
    expect([...seen].map((f) => relative(srcRoot, f))).toEqual(
      expect.arrayContaining([
        "ledger/verify/inclusion.ts",
        "ledger/verify/signed-note.ts",
        "ledger/memory-tree.ts",
        "coded-error.ts",
      ]),
    );
  });
});
