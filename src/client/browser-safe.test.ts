import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The device key and request-signing code must run unchanged in the browser: starting from those two
 * files, follow relative imports and require that nothing reached imports a package or node:* module, or
 * names a Node-only global. (device-key-file.ts is the Node-only part and is deliberately not a root.)
 */
const here = dirname(fileURLToPath(import.meta.url));
const srcRoot = resolve(here, "..");
const ROOTS = ["device-key.ts", "request-signing.ts", "envelope.ts"].map((f) => resolve(here, f));
const NODE_GLOBALS = /\b(?:Buffer|process|require|__dirname|__filename|global)\b/;

function importsOf(text: string): string[] {
  return [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gms),
  ].map((m) => (m[1] ?? m[2]) as string);
}

/** Source without comments, so prose mentioning "process" or "Buffer" does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'])\/\/.*$/gm, "$1");
}

describe("client device-key and request-signing are browser-safe", () => {
  it("import only relative, browser-safe modules, transitively, and use no Node globals", () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const queue = [...ROOTS];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const spec of importsOf(text)) {
        if (spec.startsWith(".")) queue.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        else bad.push(`${relative(srcRoot, file)} → ${spec}`);
      }
      const global = NODE_GLOBALS.exec(code(text));
      if (global !== null) bad.push(`${relative(srcRoot, file)} uses ${global[0]}`);
    }
    expect(bad).toEqual([]);
    expect([...seen].map((f) => relative(srcRoot, f)).sort()).toEqual([
      "client/device-key.ts",
      "client/envelope.ts",
      "client/request-signing.ts",
      "coded-error.ts",
    ]);
  });

  it("the scanner itself catches what it must (a node:* import, a package, a Node global)", () => {
    expect(importsOf('import { x } from "node:fs";\nexport { y } from "./y.js";')).toEqual([
      "node:fs",
      "./y.js",
    ]);
    expect(importsOf('const m = await import("node:crypto");')).toEqual(["node:crypto"]);
    expect(NODE_GLOBALS.test(code("const b = Buffer.from(x);"))).toBe(true);
    expect(NODE_GLOBALS.test(code("// Buffer in a comment\nconst a = 1;"))).toBe(false);
  });
});
