import { describe, expect, it } from "vitest";
import { CHECK_REQUEST_GAP_MS } from "../cluster/integrity/check-request.js";
import {
  MAX_ATTEMPTS,
  pauseBeforeNextAttempt,
  SEND_AGAIN_PAUSES_MS,
  unprocessedRefusal,
} from "./refused-unprocessed.js";

describe("which refusals are sent again", () => {
  it("a node's gate (503 CLUSTER_QUARANTINED / CLUSTER_CATCHING_UP) → gate", () => {
    expect(unprocessedRefusal(503, "CLUSTER_QUARANTINED")).toBe("gate");
    expect(unprocessedRefusal(503, "CLUSTER_CATCHING_UP")).toBe("gate");
  });

  it("a node that met damage to its own copy (503 INTEGRITY_FAILURE) → integrity", () => {
    expect(unprocessedRefusal(503, "INTEGRITY_FAILURE")).toBe("integrity");
  });

  it("anything else is the answer: other 503 codes, the same codes with another status, no code", () => {
    // TRANSFER_REPAIRING: one transfer is being repaired (the page says to try later); NO_QUORUM: the
    // whole cluster cannot acknowledge, another node would answer the same.
    for (const code of ["TRANSFER_REPAIRING", "CLUSTER_NO_QUORUM", "SERVICE_BUSY", "HTTP_503"]) {
      expect([code, unprocessedRefusal(503, code)]).toEqual([code, undefined]);
    }
    expect(unprocessedRefusal(500, "INTEGRITY_FAILURE")).toBeUndefined();
    expect(unprocessedRefusal(409, "CLUSTER_QUARANTINED")).toBeUndefined();
    expect(unprocessedRefusal(503, undefined)).toBeUndefined();
  });
});

describe("how long between attempts", () => {
  it("5 attempts with growing pauses, at most 6 s of waiting in all, longer than a node's gap between requested checks", () => {
    const pauses: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const pause = pauseBeforeNextAttempt(attempt);
      if (pause === undefined) break;
      pauses.push(pause);
    }
    expect(pauses).toEqual(SEND_AGAIN_PAUSES_MS);
    expect(pauses.length + 1).toBe(MAX_ATTEMPTS);
    expect(MAX_ATTEMPTS).toBe(5);
    for (let i = 1; i < pauses.length; i++) expect(pauses[i]).toBeGreaterThan(pauses[i - 1] ?? Infinity);
    const total = pauses.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(total).toBeGreaterThan(CHECK_REQUEST_GAP_MS);
  });

  it("the last attempt has no pause after it; an attempt number below 1 is a bug", () => {
    expect(pauseBeforeNextAttempt(MAX_ATTEMPTS)).toBeUndefined();
    expect(() => pauseBeforeNextAttempt(0)).toThrow(RangeError);
    expect(() => pauseBeforeNextAttempt(1.5)).toThrow(RangeError);
  });
});
