/**
 * Refuses a Node.js / better-sqlite3 combination known to abort the process.
 *
 * Node 24.19 made `node::ObjectWrap` register environment cleanup hooks; better-sqlite3 before 13
 * derives its Statement from ObjectWrap, so a statement finalised by a background GC trips
 * `Assertion failed: (env) != nullptr` and the process dies with SIGABRT — at random moments, after
 * writes. better-sqlite3 13 (Node-API) does not, but needs Node ≥ 22; Node 20 uses 12. Failing at
 * open with a clear message is better than a service that aborts under load.
 */
import { createRequire } from "node:module";
import { StoreError } from "./errors.js";

function driverVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("better-sqlite3/package.json") as { version: string }).version;
}

/** True when this Node version needs better-sqlite3 ≥ 13. */
export function needsNodeApiDriver(nodeVersion: string): boolean {
  const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
  return major > 24 || (major === 24 && minor >= 19);
}

/** Throws STORE_RUNTIME_UNSUPPORTED for a combination that would abort. */
export function assertSqliteRuntime(
  nodeVersion: string = process.versions.node,
  driver: string = driverVersion(),
): void {
  const driverMajor = Number(driver.split(".")[0]);
  if (needsNodeApiDriver(nodeVersion) && driverMajor < 13) {
    throw new StoreError(
      "STORE_RUNTIME_UNSUPPORTED",
      `Node.js ${nodeVersion} では better-sqlite3 13 以上が必要です (現在 ${driver})。` +
        "`npm install better-sqlite3@13` を実行してください / Node.js ≥ 24.19 needs better-sqlite3 ≥ 13",
      { node: nodeVersion, driver },
    );
  }
}
