/**
 * The scrub queue on a real SQLite file: made once, with every transfer already deleted or discarded in
 * it (generations taken before the queue existed may hold their keys); later calls add nothing; a note
 * without the queue writes nothing.
 */
import Database from "better-sqlite3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  finishScrubs,
  noteGenerationScrub,
  pendingScrubCount,
  pendingScrubs,
  prepareScrubQueue,
} from "./generation-scrub-queue.js";

let dir: string;
let db: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-scrub-queue-"));
  db = new Database(join(dir, "service.db"));
  db.exec("CREATE TABLE transfers (id TEXT PRIMARY KEY, status TEXT NOT NULL) STRICT");
  const insert = db.prepare("INSERT INTO transfers VALUES (?, ?)");
  for (const [id, status] of [
    ["t1", "received"],
    ["t2", "deleted"],
    ["t3", "discarded"],
    ["t4", "sent"],
  ]) {
    insert.run(id, status);
  }
});
afterEach(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the generation scrub queue", () => {
  it("notes nothing on a node without the queue", () => {
    noteGenerationScrub(db, "t1");
    expect(pendingScrubCount(db)).toBe(0);
    expect(pendingScrubs(db, 10)).toEqual([]);
  });

  it("when made, holds every transfer already deleted or discarded; made again, adds nothing", () => {
    prepareScrubQueue(db);
    expect(pendingScrubs(db, 10)).toEqual(["t2", "t3"]);
    finishScrubs(db, ["t2", "t3"]);
    prepareScrubQueue(db);
    expect(pendingScrubCount(db)).toBe(0);
    noteGenerationScrub(db, "t1");
    noteGenerationScrub(db, "t1");
    expect(pendingScrubs(db, 10)).toEqual(["t1"]);
  });

  it("is made on a service.db without transfers (an offline node before its first batch)", () => {
    db.exec("DROP TABLE transfers");
    prepareScrubQueue(db);
    expect(pendingScrubCount(db)).toBe(0);
  });
});
