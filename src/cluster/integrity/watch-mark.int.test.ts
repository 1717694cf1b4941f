/**
 * The entry watch's "checked up to" mark across a restart (issue 11): the watch saved at the size it
 * checked resumes there, so the first cosignature after a restart re-hashes only the entries appended
 * since; an entry edited below the mark is not re-checked by the watch, but the rolling full check
 * (which walks everything) still finds it; a mark that does not agree with the stored copy is ignored.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { editEntryBytes } from "../../../test/cluster/damage.js";
import {
  makeIntegrityCluster,
  type IntegrityCluster,
  type TestNode,
} from "../../../test/cluster/integrity-fixture.js";
import { EntryWatch } from "./entry-watch.js";
import { runFullCheck } from "./full-check.js";
import { fileWatchMark, type WatchMark } from "./watch-mark.js";

let c: IntegrityCluster;
let node: TestNode;
let markPath: string;

beforeEach(async () => {
  c = makeIntegrityCluster();
  for (let n = 1; n <= 6; n++) await c.transfer(n);
  c.publish();
  node = c.nodes[0] as TestNode;
  markPath = join(node.dir, "integrity-mark.json");
});
afterEach(() => {
  c.close();
});

const size = (): number => node.ledger.storage.size();

/** A watch as a node (re)started with its mark file builds it. */
const started = (): EntryWatch =>
  new EntryWatch({ storage: node.ledger.storage, mark: fileWatchMark(markPath), resume: true });

function checkAll() {
  return runFullCheck({
    storage: node.ledger.storage,
    access: node.access,
    logKey: c.f.logKey,
    published: c.published?.checkpoint,
    serviceDb: node.db,
    chunks: node.chunks,
  });
}

describe("entry watch mark across a restart", () => {
  it("resumes at the saved size; only the entries appended since are checked", async () => {
    const before = started();
    expect(before.verifiedSize).toBe(0);
    expect(before.advance(size())).toEqual([]);
    before.flush();
    expect(existsSync(markPath)).toBe(true);
    const marked = size();
    const rootBefore = before.rootAt(marked);

    const after = started();
    expect(after.verifiedSize).toBe(marked);
    expect(after.rootAt(marked)).toEqual(rootBefore);
    await c.transfer(7);
    expect(after.advance(size())).toEqual([]);
    expect(after.verifiedSize).toBe(size());
    // Its roots are the ones a watch that re-hashed everything computes.
    const fresh = new EntryWatch({ storage: node.ledger.storage });
    expect(fresh.advance(size())).toEqual([]);
    expect(after.rootAt(size())).toEqual(fresh.rootAt(size()));
    expect(after.rootAt(marked)).toEqual(fresh.rootAt(marked));
  });

  it("an entry edited below the mark: the resumed watch does not re-check it, the rolling full check finds it", async () => {
    const watch = started();
    expect(watch.advance(size())).toEqual([]);
    watch.flush();
    const marked = size();
    editEntryBytes(node, 3);
    c.reopen(node);

    const resumed = started();
    expect(resumed.verifiedSize).toBe(marked);
    await c.transfer(7);
    expect(resumed.advance(size())).toEqual([]);
    expect(checkAll().findings).toContainEqual({
      kind: "entry",
      code: "LEDGER_LEAF_HASH_MISMATCH",
      index: 3,
    });
    // A watch that starts from entry 0 (what a node does after a repair) finds it too.
    const fromZero = new EntryWatch({ storage: node.ledger.storage, mark: fileWatchMark(markPath) });
    expect(fromZero.advance(size())).toContainEqual(expect.objectContaining({ kind: "entry", index: 3 }));
  });

  it("an entry edited above the mark is found by the resumed watch before it cosigns", async () => {
    const watch = started();
    expect(watch.advance(size())).toEqual([]);
    watch.flush();
    const marked = size();
    await c.transfer(7);
    editEntryBytes(node, marked + 1);
    c.reopen(node);
    const resumed = started();
    expect(resumed.verifiedSize).toBe(marked);
    expect(resumed.advance(size())).toContainEqual(
      expect.objectContaining({ kind: "entry", index: marked + 1 }),
    );
  });

  it("a mark that does not agree with the stored copy is ignored (the watch starts from entry 0)", () => {
    const watch = started();
    expect(watch.advance(size())).toEqual([]);
    watch.flush();
    const good = fileWatchMark(markPath).load() as WatchMark;
    const other = "ab".repeat(32);
    const bad: WatchMark[] = [
      { ...good, prevLeaf: other },
      { ...good, root: other },
      { ...good, stack: good.stack.map((h, i) => (i === 0 ? other : h)) },
      { ...good, size: size() + 1 },
    ];
    for (const mark of bad) {
      writeFileSync(markPath, JSON.stringify(mark));
      expect(started().verifiedSize).toBe(0);
    }
    writeFileSync(markPath, "not json");
    expect(started().verifiedSize).toBe(0);
    writeFileSync(markPath, JSON.stringify(good));
    expect(started().verifiedSize).toBe(size());
  });
});
