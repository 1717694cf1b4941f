import { describe, expect, it } from "vitest";
import { orderedFact } from "./ordered-fact.js";

/** A put whose calls the test settles one by one, in the order it chooses. */
function controlledPut(): {
  put: (value: string) => Promise<void>;
  calls: { value: string; settle: (error?: Error) => void }[];
  inFlight: () => number;
} {
  const calls: { value: string; settle: (error?: Error) => void }[] = [];
  let open = 0;
  return {
    calls,
    inFlight: () => open,
    put: (value) =>
      new Promise<void>((resolve, reject) => {
        open++;
        calls.push({
          value,
          settle: (error) => {
            open--;
            if (error === undefined) resolve();
            else reject(error);
          },
        });
      }),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("orderedFact", () => {
  it("one put at a time, in the order given: a burst lands whole and the newest last", async () => {
    const c = controlledPut();
    const fact = orderedFact(c.put);
    fact.publish("quarantined");
    fact.publish("repairing");
    fact.publish("healthy");
    for (let i = 0; i < 3; i++) {
      await turn();
      expect(c.inFlight()).toBe(1);
      c.calls[i]?.settle();
    }
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["quarantined", "repairing", "healthy"]);
    expect(c.inFlight()).toBe(0);
    await fact.stop();
  });

  it("a failed put with newer values waiting: the newest is what is tried next", async () => {
    const c = controlledPut();
    const fact = orderedFact(c.put, { retryMs: 5 });
    fact.publish("quarantined");
    fact.publish("repairing");
    fact.publish("healthy");
    await turn();
    c.calls[0]?.settle(new Error("no majority"));
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["quarantined", "healthy"]);
    c.calls[1]?.settle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.calls).toHaveLength(2);
    await fact.stop();
  });

  it("a failed put is tried again until it lands, unless a newer value replaces it", async () => {
    const c = controlledPut();
    const errors: unknown[] = [];
    const fact = orderedFact(c.put, { retryMs: 5, onError: (e) => errors.push(e) });
    fact.publish("healthy");
    await turn();
    c.calls[0]?.settle(new Error("no majority"));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.calls.map((x) => x.value)).toEqual(["healthy", "healthy"]);
    c.calls[1]?.settle(new Error("no majority"));
    await turn();
    // A newer value during the pause ends it; the failed one is tried first, then the newer.
    fact.publish("quarantined");
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["healthy", "healthy", "healthy"]);
    c.calls[2]?.settle();
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["healthy", "healthy", "healthy", "quarantined"]);
    c.calls[3]?.settle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.calls).toHaveLength(4);
    expect(errors).toHaveLength(2);
    await fact.stop();
  });

  it("a value given just as the previous put lands is still written", async () => {
    const c = controlledPut();
    const fact = orderedFact(c.put);
    fact.publish("a");
    await turn();
    c.calls[0]?.settle();
    // Before the loop has looked again.
    fact.publish("b");
    await turn();
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["a", "b"]);
    c.calls[1]?.settle();
    await fact.stop();
  });

  it("after stop, nothing more is written, and stop waits for the put in flight", async () => {
    const c = controlledPut();
    const fact = orderedFact(c.put, { retryMs: 5 });
    fact.publish("a");
    await turn();
    fact.publish("b");
    let stopped = false;
    const stopping = fact.stop().then(() => (stopped = true));
    await turn();
    expect(stopped).toBe(false);
    c.calls[0]?.settle();
    await stopping;
    fact.publish("c");
    await turn();
    expect(c.calls.map((x) => x.value)).toEqual(["a"]);
  });
});
