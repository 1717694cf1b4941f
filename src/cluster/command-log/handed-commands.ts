/**
 * Commands handed to the sequencer directly (over the peer endpoint, or in-process by the sequencer's own
 * node), without the pending record's separate etcd transaction (`submit-command.ts`). The leader keeps
 * them in memory, oldest first, and puts them in its next batches; the batch transaction itself then
 * creates each one's id marker:
 *
 *   compare ids/<command id> Version == 0   (never submitted, never withdrawn)
 *   put     ids/<command id> = "direct"
 *
 * So a handed command is ordered at most once whichever path it also takes: a withdrawal is one
 * create-only put of its marker that the batch then fails to compare, and the origin's fallback — the
 * pending path, create-only on the same marker — either finds the marker (the batch committed: it waits
 * for its replica to apply it) or takes it first (no batch can order the command any more).
 *
 * The leader answers each handed command once:
 *   - "sequenced": a batch carrying it (accepted or refused) committed;
 *   - "duplicate": its id marker already existed (it was handed twice, also submitted as a pending
 *     record, or withdrawn): this leader did not order it, and its outcome is that of the earlier
 *     submission — as for a duplicate pending record (`submit-command.ts`). Such a command is dropped
 *     from its batch; the batch's other handed commands are taken again by the next batch, so one
 *     duplicate does not fail them all;
 *   - "not-taken": not known to be ordered by this leader — it is not the leader, it stopped leading, the
 *     batch failed (more than {@link MAX_HANDED_TRIES} times) or its outcome is unknown. The origin settles
 *     the doubt through the pending path, never by handing the command over again.
 */
import type { Command } from "./command-batch.js";

/** The id marker's value for a command a batch ordered directly (not a command id: ids are ≥ 8 chars). */
export const DIRECT_MARKER = "direct";

export type HandOverAnswer = "sequenced" | "duplicate" | "not-taken";

interface Handed {
  readonly command: Command;
  /** Bytes of its canonical text (bounds a batch). */
  readonly bytes: number;
  readonly answer: (a: HandOverAnswer) => void;
  /** Batches that carried it and failed without ordering it. */
  tries: number;
}

/**
 * How many failed batches a handed command is taken by at most before it is answered "not-taken" (a
 * batch fails for reasons of its own — the head moved, leadership lost — and the pending path then
 * settles the command instead).
 */
export const MAX_HANDED_TRIES = 3;

/** How many handed commands a leader keeps waiting at most; more are answered "not-taken" at once. */
export const MAX_HANDED_WAITING = 20_000;

/** The leader's queue of handed commands: waiting, then in a batch in flight, then answered. */
export class HandedCommands {
  readonly #waiting = new Map<string, Handed>();
  readonly #inFlight = new Map<string, Handed>();
  /** Called when commands arrive (wakes the leader's loop). */
  readonly #onArrival: () => void;
  #open = true;

  constructor(onArrival: () => void) {
    this.#onArrival = onArrival;
  }

  /** Takes commands; each promise settles once with that command's answer. */
  add(commands: readonly { command: Command; bytes: number }[]): Promise<HandOverAnswer>[] {
    const answers = commands.map(
      ({ command, bytes }) =>
        new Promise<HandOverAnswer>((answer) => {
          const id = command.id;
          // Closed, full, or the same id already here: not this path (the pending path decides).
          if (!this.#open || this.#waiting.size >= MAX_HANDED_WAITING) answer("not-taken");
          else if (this.#waiting.has(id) || this.#inFlight.has(id)) answer("not-taken");
          else this.#waiting.set(id, { command, bytes, answer, tries: 0 });
        }),
    );
    if (this.#waiting.size > 0) this.#onArrival();
    return answers;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /** The oldest waiting commands, at most `limit` of them and `maxBytes` together (at least one). */
  first(limit: number, maxBytes: number): Command[] {
    const out: Command[] = [];
    let bytes = 0;
    for (const h of this.#waiting.values()) {
      if (out.length >= limit) break;
      bytes += h.bytes;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(h.command);
    }
    return out;
  }

  /** These commands went into a batch now in flight (not proposed again). */
  taken(ids: readonly string[]): void {
    for (const id of ids) {
      const h = this.#waiting.get(id);
      if (h === undefined) continue;
      this.#waiting.delete(id);
      this.#inFlight.set(id, h);
    }
  }

  /** The batch that carried these commands settled. */
  settled(ids: readonly string[], answer: HandOverAnswer): void {
    for (const id of ids) {
      const h = this.#inFlight.get(id);
      if (h === undefined) continue;
      this.#inFlight.delete(id);
      h.answer(answer);
    }
  }

  /**
   * The batch that carried these commands failed, so none of them was ordered (its transaction is all or
   * nothing): they wait again, ahead of the others and in their order, unless they were tried
   * {@link MAX_HANDED_TRIES} times already (then "not-taken").
   */
  again(ids: readonly string[]): void {
    const back = new Map<string, Handed>();
    for (const id of ids) {
      const h = this.#inFlight.get(id);
      if (h === undefined) continue;
      this.#inFlight.delete(id);
      h.tries++;
      if (!this.#open || h.tries >= MAX_HANDED_TRIES) h.answer("not-taken");
      else back.set(id, h);
    }
    if (back.size === 0) return;
    const rest = [...this.#waiting];
    this.#waiting.clear();
    for (const [id, h] of [...back, ...rest]) this.#waiting.set(id, h);
    this.#onArrival();
  }

  /** Stops taking commands and answers every waiting one "not-taken" (leadership ended). */
  close(): void {
    this.#open = false;
    for (const [id, h] of this.#waiting) {
      this.#waiting.delete(id);
      h.answer("not-taken");
    }
    for (const [id, h] of this.#inFlight) {
      this.#inFlight.delete(id);
      h.answer("not-taken");
    }
  }
}
