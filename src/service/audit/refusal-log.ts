/**
 * Refusals as ledger entries, without letting an attacker flood the ledger. Every refused request made
 * in a session — a bad CSRF token, a device signature that fails, a read or look-up of a transfer the ID
 * may not see, a refused transfer operation — is a `denial` entry (BALP: the attempt is audited even
 * when nothing happened). Per requesting address and ID, at most `perWindow` (60) such entries are
 * written in each minute; the rest are counted, and the next entry written for that address and ID says how many
 * were left out, so the trail stays truthful about their number.
 */
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "../context.js";

export type DenialAction = Extract<RecordInput, { type: "denial" }>["action"];

interface Window {
  start: number;
  written: number;
  suppressed: number;
}

/** Fixed-window counter per (address, ID); bounded in size. */
export class RefusalLimiter {
  readonly #now: () => number;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(o: { now: () => number; perWindow?: number; windowMs?: number; maxKeys?: number }) {
    this.#now = o.now;
    this.#perWindow = o.perWindow ?? 60;
    this.#windowMs = o.windowMs ?? 60_000;
    this.#maxKeys = o.maxKeys ?? 10_000;
  }

  /** Whether to write this refusal, and how many were left out before it in this key's last window. */
  admit(key: string): { write: boolean; leftOut: number } {
    const now = this.#now();
    let w = this.#windows.get(key);
    let carried = 0;
    if (w !== undefined && now - w.start >= this.#windowMs) {
      carried = w.suppressed;
      w = undefined;
    }
    if (w === undefined) {
      if (this.#windows.size >= this.#maxKeys) this.#evict(now);
      w = { start: now, written: 0, suppressed: 0 };
      this.#windows.set(key, w);
    }
    if (w.written >= this.#perWindow) {
      w.suppressed += 1;
      return { write: false, leftOut: 0 };
    }
    w.written += 1;
    const leftOut = carried + w.suppressed;
    w.suppressed = 0;
    return { write: true, leftOut };
  }

  #evict(now: number): void {
    for (const [key, w] of this.#windows) {
      if (now - w.start >= this.#windowMs) this.#windows.delete(key);
    }
    // Still full (a spread attack): forget the oldest half.
    if (this.#windows.size >= this.#maxKeys) {
      let n = Math.floor(this.#windows.size / 2);
      for (const key of this.#windows.keys()) {
        if (n-- <= 0) break;
        this.#windows.delete(key);
      }
    }
  }
}

/** Appends a denial entry unless this address and ID have written their share in this window. */
export async function recordRefusal(
  ctx: ServiceContext,
  actor: Actor,
  o: { action: DenialAction; code: string; transferId?: string | undefined; detail?: string | undefined },
): Promise<void> {
  const admitted = ctx.refusals?.admit(`${actor.ip ?? "-"}|${actor.loginId}`) ?? { write: true, leftOut: 0 };
  if (!admitted.write) return;
  const desc = [
    o.code,
    o.detail,
    admitted.leftOut > 0 ? `${admitted.leftOut} similar refusals not recorded` : undefined,
  ]
    .filter((x) => x !== undefined)
    .join("; ");
  await audit(ctx, [
    {
      ...recordCommon(ctx, actor, "minor-failure", desc.slice(0, 500)),
      type: "denial",
      action: o.action,
      code: /^[A-Z][A-Z0-9_]{2,63}$/.test(o.code) ? o.code : "REQUEST_INVALID",
      ...(o.transferId !== undefined ? { transfer: o.transferId } : {}),
    },
  ]);
}
