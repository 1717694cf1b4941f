/**
 * The publication hook of a node's ledger port (ledger-port.ts): every checkpoint the ledger publishes
 * is time-stamped (RFC 3161, `signing/time-stamps.ts`) by the configured authority, after the fact and
 * off the write path.
 */
import type { CheckpointPublished, PublishedCheckpoint } from "../ledger/write-port.js";
import type { ServiceContext } from "./context.js";
import { stampCheckpoint } from "./signing/time-stamps.js";

/**
 * The hook, and `attach` to give it the context once that exists. A TSA that cannot answer leaves that
 * checkpoint unstamped (monitoring counts them); the next one is stamped. The hook runs on the next
 * turn of the event loop, so a checkpoint signed while the port is being opened is stamped once the
 * context exists (only the latest of those: it covers the others).
 */
export function stampingHook(): { hook: CheckpointPublished; attach: (ctx: ServiceContext) => void } {
  let ctx: ServiceContext | undefined;
  const pending: PublishedCheckpoint[] = [];
  const stamp = (c: ServiceContext, cp: PublishedCheckpoint): void => {
    stampCheckpoint(c, cp).catch(() => undefined);
  };
  return {
    hook: (cp) => {
      if (ctx === undefined) pending.push(cp);
      else {
        const c = ctx;
        setImmediate(() => {
          stamp(c, cp);
        });
      }
    },
    attach: (c) => {
      ctx = c;
      const latest = pending.at(-1);
      pending.length = 0;
      if (latest !== undefined)
        setImmediate(() => {
          stamp(c, latest);
        });
    },
  };
}
