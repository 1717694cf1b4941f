import { describe, expect, it } from "vitest";
import { isCodedError } from "../../coded-error.js";
import { startCheckRequests, type CheckRequestOptions } from "./check-request.js";

/** A clock and a timer queue the test moves by hand (no wall time). */
function manualTime() {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    /** Timers still due. */
    pending: () => timers.filter((t) => t.live).length,
    /** Moves the clock by `ms`, firing what falls due, in order. */
    advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= now).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) return;
        due.live = false;
        due.fn();
      }
    },
  };
}

/** The run a test controls: each call waits until the test finishes it. */
function gatedRun() {
  const calls: { finish: (error?: Error) => void }[] = [];
  return {
    calls,
    run: () =>
      new Promise<void>((resolve, reject) => {
        calls.push({
          finish: (error) => {
            if (error === undefined) resolve();
            else reject(error);
          },
        });
      }),
  };
}

/** Lets the promise callbacks queued so far run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function setUp(o: Partial<CheckRequestOptions> & { busy?: () => boolean } = {}) {
  const time = manualTime();
  const gate = gatedRun();
  const errors: unknown[] = [];
  const requests = startCheckRequests({
    run: gate.run,
    busy: () => false,
    minGapMs: 5000,
    now: time.now,
    schedule: time.schedule,
    onError: (e) => errors.push(e),
    ...o,
  });
  return { time, gate, errors, requests };
}

describe("full checks asked for by requests", () => {
  it("the first request runs the check at once", () => {
    const { gate, requests } = setUp();
    requests.request();
    expect(gate.calls).toHaveLength(1);
    void requests.stop();
  });

  it("requests while a run is under way give exactly one more run, after the gap", async () => {
    const { time, gate, requests } = setUp();
    requests.request();
    requests.request();
    requests.request();
    requests.request();
    expect(gate.calls).toHaveLength(1);
    time.advance(1000);
    gate.calls[0]?.finish();
    await settle();
    // Not before the gap since that run ended.
    expect(gate.calls).toHaveLength(1);
    time.advance(4999);
    expect(gate.calls).toHaveLength(1);
    time.advance(1);
    expect(gate.calls).toHaveLength(2);
    gate.calls[1]?.finish();
    await settle();
    // Nobody asked during the second run: nothing more.
    time.advance(60_000);
    expect(gate.calls).toHaveLength(2);
    await requests.stop();
  });

  it("a run finished with nobody asking meanwhile is not repeated", async () => {
    const { time, gate, requests } = setUp();
    requests.request();
    gate.calls[0]?.finish();
    await settle();
    time.advance(60_000);
    expect(gate.calls).toHaveLength(1);
    expect(time.pending()).toBe(0);
    await requests.stop();
  });

  it("a request within the gap after a run waits for the gap; more requests then add nothing", async () => {
    const { time, gate, requests } = setUp();
    requests.request();
    gate.calls[0]?.finish();
    await settle();
    time.advance(2000);
    requests.request();
    requests.request();
    expect(gate.calls).toHaveLength(1);
    expect(time.pending()).toBe(1);
    time.advance(2999);
    expect(gate.calls).toHaveLength(1);
    time.advance(1);
    expect(gate.calls).toHaveLength(2);
    await settle();
    expect(time.pending()).toBe(0);
    gate.calls[1]?.finish();
    await requests.stop();
  });

  it("a request after the gap has passed runs at once", async () => {
    const { time, gate, requests } = setUp();
    requests.request();
    gate.calls[0]?.finish();
    await settle();
    time.advance(5000);
    requests.request();
    expect(gate.calls).toHaveLength(2);
    gate.calls[1]?.finish();
    await requests.stop();
  });

  it("no run while the node is already quarantined or repairing", async () => {
    let busy = true;
    const { time, gate, requests } = setUp({ busy: () => busy });
    requests.request();
    expect(gate.calls).toHaveLength(0);
    expect(time.pending()).toBe(0);
    busy = false;
    requests.request();
    expect(gate.calls).toHaveLength(1);
    gate.calls[0]?.finish();
    await requests.stop();
  });

  it("a run due after the gap is dropped when the node was quarantined meanwhile", async () => {
    let busy = false;
    const { time, gate, requests } = setUp({ busy: () => busy });
    requests.request();
    gate.calls[0]?.finish();
    await settle();
    requests.request();
    expect(time.pending()).toBe(1);
    busy = true;
    time.advance(5000);
    expect(gate.calls).toHaveLength(1);
    await requests.stop();
  });

  it("the extra run is dropped when the run it follows quarantined the node", async () => {
    let busy = false;
    const { time, gate, requests } = setUp({ busy: () => busy });
    requests.request();
    requests.request();
    busy = true;
    gate.calls[0]?.finish();
    await settle();
    time.advance(60_000);
    expect(gate.calls).toHaveLength(1);
    await requests.stop();
  });

  it("a failed run is reported, never thrown, and the next request runs again", async () => {
    const { time, gate, errors, requests } = setUp();
    requests.request();
    gate.calls[0]?.finish(new Error("worker died"));
    await settle();
    expect(errors).toEqual([new Error("worker died")]);
    time.advance(5000);
    requests.request();
    expect(gate.calls).toHaveLength(2);
    gate.calls[1]?.finish();
    await requests.stop();
  });

  it("a run that throws before it returns a promise does not stall later requests", async () => {
    let calls = 0;
    const { time, errors, requests } = setUp({
      run: () => {
        calls++;
        throw new Error("no files");
      },
    });
    requests.request();
    await settle();
    time.advance(5000);
    requests.request();
    await settle();
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
    await requests.stop();
  });

  it("a busy probe that throws is reported, and the request does not throw", () => {
    const { gate, errors, requests } = setUp({
      busy: () => {
        throw new Error("health gone");
      },
    });
    expect(() => {
      requests.request();
    }).not.toThrow();
    expect(gate.calls).toHaveLength(0);
    expect(errors).toHaveLength(1);
    void requests.stop();
  });

  it("stop cancels a run waiting for its gap and waits for the run under way", async () => {
    const { time, gate, requests } = setUp();
    requests.request();
    gate.calls[0]?.finish();
    await settle();
    requests.request();
    expect(time.pending()).toBe(1);
    await requests.stop();
    expect(time.pending()).toBe(0);
    time.advance(60_000);
    requests.request();
    expect(gate.calls).toHaveLength(1);

    const second = setUp();
    second.requests.request();
    let stopped = false;
    const stopping = second.requests.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    second.gate.calls[0]?.finish();
    await stopping;
    expect(stopped).toBe(true);
  });

  it("a negative or non-finite gap → CLUSTER_OPTION_INVALID", () => {
    for (const minGapMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      try {
        setUp({ minGapMs });
        expect.unreachable(`gap ${minGapMs} accepted`);
      } catch (error) {
        expect(isCodedError(error) ? error.code : error).toBe("CLUSTER_OPTION_INVALID");
      }
    }
  });
});
