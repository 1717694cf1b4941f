/**
 * The built service (`npm run build`) as the server benches load it: its modules and data files
 * resolve from dist/, not from dist-bench/, so a bench measures exactly what `kenshin serve` runs.
 */

/** dist/ of the worktree (this file runs as dist-bench/bench/support/built-service.js). */
export const DIST = new URL("../../../dist/", import.meta.url);

/** Imports a module of the built service, e.g. `load<typeof DemoModule>("service/demo.js")`. */
export async function load<T>(path: string): Promise<T> {
  return (await import(new URL(path, DIST).href)) as T;
}

/** A positive whole-number command-line flag (`--examinees 10000`), or its default. */
export function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}
