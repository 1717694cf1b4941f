/**
 * When the API client may send a request again after its connection failed (client/api-client.ts):
 * only when it is known that nothing was done.
 *
 * - The TLS handshake had not completed: not a byte of the request left.
 * - GET and HEAD change nothing: any cut connection.
 * - A kept-alive connection, reused for this request, was reset (ECONNRESET, EPIPE) before any byte of
 *   the answer: the node closed it while it was idle — as a node that stops serving does at once
 *   (server/quarantine-gate.ts, step 2), or at its keep-alive time-out — and the request crossed that
 *   close on the way, so no route read it. Browsers send such a request again by themselves; so does
 *   this client (Node's own documentation of `request.reusedSocket` gives the same rule). A node that
 *   died in the middle of a request on a fresh connection is not covered: that one is not sent again.
 */

/** Transport errors of a connection that was cut (not a TLS refusal of our certificate). */
const CUT = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ECONNABORTED"]);
/** What a peer's close of an idle kept connection looks like to a request written on it. */
const CLOSED_WHILE_IDLE = new Set(["ECONNRESET", "EPIPE"]);
const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** What a failed attempt left: whether the request may have reached a route. */
export interface AttemptState {
  /** The TLS handshake completed, so the request may have been sent. */
  handshaken: boolean;
  /** The request went on a kept-alive connection made for an earlier one. */
  reused: boolean;
}

export function newAttempt(): AttemptState {
  return { handshaken: false, reused: false };
}

/** `error` rejected an attempt before any answer arrived: may it be sent again? */
export function mayRetryError(error: unknown, method: string, state: AttemptState): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !CUT.has(code)) return false;
  if (!state.handshaken || SAFE_METHODS.has(method)) return true;
  return state.reused && CLOSED_WHILE_IDLE.has(code);
}
