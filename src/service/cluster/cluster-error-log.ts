/**
 * How a cluster node's background errors (etcd, peers) reach its log when the caller of openNode gives
 * no handler of its own: one line on stderr, without any data.
 */
import { etcdClientError } from "../../cluster/errors.js";
import { isCodedError } from "../../coded-error.js";

/**
 * A cluster node's background error, as one line without any data: our coded errors by code; anything
 * else (etcd, gRPC, network: messages of libraries, no records in them) by name and message, so an
 * operator reading the log can tell a timeout from a refusal.
 */
export function logClusterError(error: unknown): void {
  const etcd = etcdClientError(error);
  const what = isCodedError(error)
    ? error.code
    : etcd !== undefined
      ? `${etcd.code} (etcd ${String(etcd.context["etcd"])})`
      : error instanceof Error
        ? `${error.name}: ${error.message.replace(/\s+/g, " ").slice(0, 200)}${sourceOf(error)}`
        : "unknown";
  process.stderr.write(`kenshin cluster: ${what}\n`);
}

/**
 * Where an uncoded error was thrown, as ` (at file:line:column)` of its first stack frame in our own
 * code (names of our files only: nothing of any record), so a bug seen once in a node's log can be found.
 */
export function sourceOf(error: Error): string {
  for (const line of (error.stack ?? "").split("\n").slice(1)) {
    if (line.includes("node_modules") || line.includes("node:")) continue;
    const m = /(?:src|dist)\/([\w./-]+\.[jt]s):(\d+):(\d+)/.exec(line);
    if (m !== null) return ` (at ${m[1] ?? ""}:${m[2] ?? ""}:${m[3] ?? ""})`;
  }
  return "";
}
