import { isBrokenCircuitError } from "cockatiel";
import { GRPCDeadlineExceededError, GRPCNotFoundError } from "etcd3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HOST_OPEN_MS, NO_ANSWER_HALF_OPEN_MS, nodeHostBreakers } from "./etcd-client.js";

// The circuits' clock is Date.now (cockatiel's and ours): set by the test.
const START = Date.parse("2026-12-02T18:00:00Z");
const at = (ms: number): void => {
  vi.setSystemTime(START + ms);
};

const missed = (): Promise<never> => Promise.reject(new GRPCDeadlineExceededError("deadline exceeded"));
const answered = (): Promise<string> => Promise.resolve("ok");

/** What one call through `policy` met: the member's answer, its failure, or the open circuit. */
async function call(policy: ReturnType<ReturnType<typeof nodeHostBreakers>>, fn: () => Promise<unknown>) {
  try {
    await policy.execute(fn);
    return "answered";
  } catch (error) {
    return isBrokenCircuitError(error) ? "open" : "failed";
  }
}

describe("the node client's host breakers", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    at(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("when no member answered since a circuit opened (no majority) → it lets a call through again after the short wait", async () => {
    const hosts = nodeHostBreakers(Date.now);
    const [a, b] = [hosts("a"), hosts("b")];
    for (const p of [a, b]) for (let i = 0; i < 3; i++) expect(await call(p, missed)).toBe("failed");
    expect([await call(a, answered), await call(b, answered)]).toEqual(["open", "open"]);
    at(NO_ANSWER_HALF_OPEN_MS - 1);
    expect(await call(a, answered)).toBe("open");
    at(NO_ANSWER_HALF_OPEN_MS);
    // The majority is back: the first circuit's next call meets etcd and closes it; from then on a
    // member answers, so the other circuit is one of a member failing alone (5 s) — calls go to `a`.
    expect([await call(a, answered), await call(b, answered)]).toEqual(["answered", "open"]);
    at(HOST_OPEN_MS);
    expect(await call(b, answered)).toBe("answered");
  });

  it("when another member answers while one keeps failing → that one's circuit stays open for 5 s, as etcd3's default", async () => {
    const hosts = nodeHostBreakers(Date.now);
    const [dead, live] = [hosts("dead"), hosts("live")];
    for (let i = 0; i < 3; i++) expect(await call(dead, missed)).toBe("failed");
    at(1);
    expect(await call(live, answered)).toBe("answered");
    at(NO_ANSWER_HALF_OPEN_MS);
    expect(await call(dead, answered)).toBe("open");
    at(HOST_OPEN_MS - 1);
    expect(await call(dead, answered)).toBe("open");
    at(HOST_OPEN_MS);
    // Half-open: the trial fails again, and with the other member answering it opens for 5 s again.
    expect(await call(dead, missed)).toBe("failed");
    at(HOST_OPEN_MS + 1);
    expect(await call(live, answered)).toBe("answered");
    at(HOST_OPEN_MS + NO_ANSWER_HALF_OPEN_MS);
    expect(await call(dead, answered)).toBe("open");
  });

  it("when a member answers with an error of its own (not found) → it is an answer, no circuit opens", async () => {
    const hosts = nodeHostBreakers(Date.now);
    const a = hosts("a");
    const notFound = (): Promise<never> => Promise.reject(new GRPCNotFoundError("no such key"));
    for (let i = 0; i < 5; i++) expect(await call(a, notFound)).toBe("failed");
    expect(await call(a, answered)).toBe("answered");
  });
});
