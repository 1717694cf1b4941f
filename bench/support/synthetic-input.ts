/**
 * The synthetic wide CP932 export the server benches upload, generated once per size into bench/out
 * (deterministic, so runs compare) and reused by later runs.
 */
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { exportShape, writeSyntheticExport, type ExportShape } from "../convert/synthetic-export.js";

export interface SyntheticInput {
  /** bench/out/wide-<examinees>.csv */
  readonly path: string;
  /** The export's columns and the mapping that converts it. */
  readonly shape: ExportShape;
  /** bench/out, where the benches also keep their temporary files and logs. */
  readonly outDir: string;
}

/** The export of `examinees` rows, written first (through a `.partial` file) if it is not there yet. */
export async function syntheticInput(examinees: number): Promise<SyntheticInput> {
  const outDir = join("bench", "out");
  await mkdir(outDir, { recursive: true });
  const shape = exportShape();
  const path = join(outDir, `wide-${examinees}.csv`);
  if (!existsSync(path)) {
    process.stderr.write(`generating ${path} …\n`);
    await writeSyntheticExport(`${path}.partial`, examinees, shape);
    await rename(`${path}.partial`, path);
  }
  return { path, shape, outDir };
}
