import { describe, expect, it } from "vitest";
import type { Command } from "./command-batch.js";
import { HandedCommands, MAX_HANDED_TRIES, type HandOverAnswer } from "./handed-commands.js";

const command = (id: string): { command: Command; bytes: number } => ({
  command: { id: `command-${id}`, origin: "node2", body: id },
  bytes: 10,
});

/** Answers as they come, by id. */
function recorded(answers: Promise<HandOverAnswer>[], ids: readonly string[]): Map<string, HandOverAnswer> {
  const seen = new Map<string, HandOverAnswer>();
  answers.forEach((a, i) => {
    void a.then((x) => seen.set(`command-${ids[i] ?? ""}`, x));
  });
  return seen;
}

const ids = (q: HandedCommands): string[] => q.first(100, 1e6).map((c) => c.id);

describe("the leader's queue of handed commands", () => {
  it("commands of a failed batch wait again ahead of the others, in their order", async () => {
    const q = new HandedCommands(() => undefined);
    const seen = recorded(q.add(["a", "b", "c", "d"].map(command)), ["a", "b", "c", "d"]);
    q.taken(["command-a", "command-b"]);
    expect(ids(q)).toEqual(["command-c", "command-d"]);
    q.again(["command-a", "command-b"]);
    expect(ids(q)).toEqual(["command-a", "command-b", "command-c", "command-d"]);
    q.taken(["command-a", "command-b"]);
    q.settled(["command-a"], "sequenced");
    q.settled(["command-b"], "duplicate");
    await Promise.resolve();
    expect(Object.fromEntries(seen)).toEqual({ "command-a": "sequenced", "command-b": "duplicate" });
  });

  it(`a command whose batches failed ${MAX_HANDED_TRIES} times is answered not-taken (the pending path settles it)`, async () => {
    const q = new HandedCommands(() => undefined);
    const seen = recorded(q.add([command("a")]), ["a"]);
    for (let i = 0; i < MAX_HANDED_TRIES; i++) {
      expect(ids(q)).toEqual(["command-a"]);
      q.taken(["command-a"]);
      q.again(["command-a"]);
    }
    await Promise.resolve();
    expect(ids(q)).toEqual([]);
    expect(seen.get("command-a")).toBe("not-taken");
  });

  it("once closed, commands sent back are answered not-taken, not queued", async () => {
    const q = new HandedCommands(() => undefined);
    const seen = recorded(q.add([command("a")]), ["a"]);
    q.taken(["command-a"]);
    q.close();
    q.again(["command-a"]);
    await Promise.resolve();
    expect(seen.get("command-a")).toBe("not-taken");
    expect(ids(q)).toEqual([]);
  });
});
