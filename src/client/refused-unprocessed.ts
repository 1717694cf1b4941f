/**
 * Which refusals a client sends again, and how long it waits before each new attempt: one rule for the
 * browser (web/src/api.ts) and the Node client (api-client.ts), so that a user reaching a cluster through
 * its load balancer is served by a healthy node and never sees a refusal of a node that met damage or
 * stopped serving (issue 11: "users on healthy nodes never see a failure").
 *
 * Two refusals say that nothing of the user's was done:
 *
 * - `gate`: a node that stopped serving (quarantined, repairing, catching up) answered before any route
 *   ran — 503 `CLUSTER_QUARANTINED` or `CLUSTER_CATCHING_UP` (server/quarantine-gate.ts; the last-resort
 *   port answers the same). Nothing at all was read: the same request may go again as it is.
 * - `integrity`: the node met damage to its own copy while verifying what the operation relies on —
 *   503 `INTEGRITY_FAILURE` (service/transfers/integrity.ts `raiseIntegrityAlarm`). Every operation on a
 *   transfer verifies the row and its ledger segment (party-transfer.ts `partyRow`, queries.ts) and the
 *   stored file (checked-standard.ts) before its state change (state-change.ts `changeState`), so a
 *   refused send, 受領確定 or discard changed nothing; what the node did record is its own alarm entry.
 *   Only a download's one-use envelope channel was used up (download.ts takes it first): a download is
 *   sent again under a fresh key agreement, not as it is. The node asks for its full check at once and
 *   quarantines itself within about a second, so a later attempt through the load balancer reaches a
 *   healthy node; the pauses grow to give the quarantine that moment.
 */

/** Why a node refused a request it did nothing with; undefined for any other answer. */
export type UnprocessedRefusal = "gate" | "integrity";

const GATE_CODES: ReadonlySet<string> = new Set(["CLUSTER_QUARANTINED", "CLUSTER_CATCHING_UP"]);
const INTEGRITY_CODE = "INTEGRITY_FAILURE";

/**
 * The pause (ms) before attempt n + 2 after attempt n + 1 was refused: 5 attempts in all, 6 s of pauses.
 * The first is short (a node that stopped serving is left at once); together they outlast the 5 s a
 * node leaves between two checks asked for by requests (cluster/integrity/check-request.ts
 * `CHECK_REQUEST_GAP_MS`), so damage met again soon after a repair is still checked, and the node left,
 * within the attempts.
 */
export const SEND_AGAIN_PAUSES_MS: readonly number[] = [300, 900, 1800, 3000];

/** Attempts per request, the first included. */
export const MAX_ATTEMPTS = SEND_AGAIN_PAUSES_MS.length + 1;

/** Whether an answer (its HTTP status and our code, if any) is a refusal of a request nothing was done with. */
export function unprocessedRefusal(status: number, code: string | undefined): UnprocessedRefusal | undefined {
  if (status !== 503 || code === undefined) return undefined;
  if (GATE_CODES.has(code)) return "gate";
  return code === INTEGRITY_CODE ? "integrity" : undefined;
}

/**
 * How long to wait before sending again after attempt `attempt` (1 for the first) failed, or undefined
 * when that was the last attempt.
 */
export function pauseBeforeNextAttempt(attempt: number): number | undefined {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be ≥ 1, got ${attempt}`);
  return SEND_AGAIN_PAUSES_MS[attempt - 1];
}
