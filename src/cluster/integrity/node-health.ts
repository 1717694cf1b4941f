/**
 * The node's integrity state, which the user-facing server and the cosigner consult: a node whose own
 * copy failed a check is *quarantined* — it stops serving users and stops cosigning, and `/health`
 * answers 503 so the load balancer (haproxy's HTTPS check) takes it out of the pool — until the damage
 * is repaired and the check passes again. Transfers whose damage no copy could repair stay marked
 * *damaged*: the node rejoins, but never serves those payloads.
 *
 * One instance per node, created by the node wiring and passed to whoever must consult it (no module
 * state). Everything it holds is log-safe (positions, codes, addresses).
 */
import { ClusterError } from "../errors.js";
import { describeFinding, type Finding } from "./finding.js";

/** What monitoring shows for a node. */
export type NodeState = "healthy" | "quarantined" | "repairing" | "catching-up";

/** One repair as monitoring lists it (its ledger entry index once appended). */
export interface RepairReport {
  readonly at: string;
  readonly what: readonly string[];
  readonly fromNode: string;
  readonly checkpointSize: number;
  readonly entryIndex?: number;
}

/** The last full check. */
export interface FullCheckReport {
  readonly at: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly findings: number;
}

export interface NodeHealthSnapshot {
  readonly state: NodeState;
  /** When the node entered this state. */
  readonly since: string;
  /** Why it is not healthy (empty when healthy). */
  readonly findings: readonly string[];
  readonly lastFullCheck: FullCheckReport | undefined;
  /** The most recent repairs, newest last. */
  readonly repairs: readonly RepairReport[];
  /** Transfers whose payload no copy could repair: never served. */
  readonly damagedTransfers: readonly string[];
}

const KEEP_REPAIRS = 20;

export class NodeHealth {
  readonly #now: () => Date;
  #state: NodeState = "healthy";
  #since: string;
  #findings: Finding[] = [];
  #lastFullCheck: FullCheckReport | undefined;
  readonly #repairs: RepairReport[] = [];
  readonly #damaged = new Set<string>();
  /** Transfers held while a chunk of theirs is repaired (counted: two chunks of one transfer at once). */
  readonly #held = new Map<string, number>();
  readonly #listeners: ((s: NodeHealthSnapshot) => void)[] = [];

  constructor(o: { now: () => Date }) {
    this.#now = o.now;
    this.#since = o.now().toISOString();
  }

  get state(): NodeState {
    return this.#state;
  }

  /** True only when the node may serve users and cosign. */
  serving(): boolean {
    return this.#state === "healthy";
  }

  /** @throws ClusterError CLUSTER_QUARANTINED unless healthy */
  assertServing(): void {
    if (!this.serving()) {
      throw new ClusterError("CLUSTER_QUARANTINED", "このノードは点検のため利用を停止しています", {
        state: this.#state,
      });
    }
  }

  /** Stops serving and cosigning because of what a check found (findings accumulate until repaired). */
  quarantine(findings: readonly Finding[]): void {
    if (findings.length === 0) return;
    this.#findings.push(...findings);
    if (this.#state === "healthy" || this.#state === "catching-up") this.#enter("quarantined");
    else this.#emit();
  }

  beginRepair(): void {
    this.#enter("repairing");
  }

  /** Back to "quarantined" when a repair attempt failed and the damage is still there. */
  repairFailed(): void {
    this.#enter("quarantined");
  }

  /** The check passed again: serve and cosign again. */
  rejoin(repair?: RepairReport): void {
    if (repair !== undefined) {
      this.#repairs.push(repair);
      if (this.#repairs.length > KEEP_REPAIRS) this.#repairs.shift();
    }
    this.#findings = [];
    this.#enter("healthy");
  }

  catchingUp(): void {
    if (this.#state === "healthy") this.#enter("catching-up");
  }

  caughtUp(): void {
    if (this.#state === "catching-up") this.#enter("healthy");
  }

  /**
   * One chunk of `transfer` is being repaired while the node keeps serving everything else: the
   * transfer's payload is refused (TRANSFER_REPAIRING) until {@link releaseTransfer}.
   */
  holdTransfer(transfer: string): void {
    this.#held.set(transfer, (this.#held.get(transfer) ?? 0) + 1);
  }

  releaseTransfer(transfer: string): void {
    const n = (this.#held.get(transfer) ?? 0) - 1;
    if (n > 0) this.#held.set(transfer, n);
    else this.#held.delete(transfer);
  }

  isRepairing(transfer: string): boolean {
    return this.#held.has(transfer);
  }

  /** A repair done while the node kept serving (a chunk): listed with the others, the state unchanged. */
  recordRepair(repair: RepairReport): void {
    this.#repairs.push(repair);
    if (this.#repairs.length > KEEP_REPAIRS) this.#repairs.shift();
    this.#emit();
  }

  markDamaged(transfer: string): void {
    this.#damaged.add(transfer);
    this.#emit();
  }

  isDamaged(transfer: string): boolean {
    return this.#damaged.has(transfer);
  }

  recordFullCheck(report: Omit<FullCheckReport, "at">): void {
    this.#lastFullCheck = { at: this.#now().toISOString(), ...report };
    this.#emit();
  }

  /** Called on every change (monitoring, logs, the user listener); returns the way to stop it. */
  onChange(listener: (s: NodeHealthSnapshot) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  snapshot(): NodeHealthSnapshot {
    return {
      state: this.#state,
      since: this.#since,
      findings: this.#findings.map(describeFinding),
      lastFullCheck: this.#lastFullCheck,
      repairs: [...this.#repairs],
      damagedTransfers: [...this.#damaged],
    };
  }

  #enter(state: NodeState): void {
    if (state !== this.#state) {
      this.#state = state;
      this.#since = this.#now().toISOString();
    }
    this.#emit();
  }

  #emit(): void {
    const s = this.snapshot();
    for (const l of [...this.#listeners]) l(s);
  }
}
