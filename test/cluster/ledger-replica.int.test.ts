/**
 * Ledger entries replicated through the command log on a real 3-member etcd cluster: three nodes, each
 * with its own ledger.db built only by applying the log, each signing the checkpoint of its own copy and
 * cosigning it after recomputing the root from its own leaves, cosignatures gathered through etcd until
 * 2 of 3 publish the checkpoint. A node whose copy is then edited in its SQLite file refuses to cosign
 * (its recomputed root differs) and the other two still publish.
 */
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cosignCheckpoint, type CosignerState } from "../../src/cluster/checkpoint-cosigner.js";
import { logKeys } from "../../src/cluster/command-log/command-batch.js";
import { startFollower, type RunningFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer } from "../../src/cluster/command-log/sequencer.js";
import {
  createGroupedSubmitter,
  type GroupedSubmitter,
} from "../../src/cluster/command-log/submit-command.js";
import { latestPublished, offerCosignature, publishIfQuorum } from "../../src/cluster/cosign-exchange.js";
import { LEDGER_APPEND, openLedgerReplica, type LedgerReplica } from "../../src/cluster/ledger-replica.js";
import { fsck } from "../../src/ledger/fsck.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { MemoryTree } from "../../src/ledger/memory-tree.js";
import { rfc6962Hasher } from "../../src/ledger/verify/hash.js";
import { openPublishedCheckpoint } from "../../src/ledger/verify/published-checkpoint.js";
import { createSqliteLog } from "../../src/store/sqlite-log.js";
import { noteRecord, sha, uploadRecord } from "../ledger/records.js";
import { cosigningFixture } from "./cosigning-fixture.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const PREFIX = "replica-test/";
const keys = logKeys(PREFIX);
const witnesses = cosigningFixture();
const policy = { cosigners: witnesses.cosignerKeys, quorum: 2 };

interface Node {
  readonly name: string;
  readonly client: Etcd3;
  readonly replica: LedgerReplica;
  readonly follower: RunningFollower;
  readonly submitter: GroupedSubmitter;
  readonly outcomes: string[];
}

let dir: string;
const nodes: Node[] = [];
const stops: (() => Promise<void>)[] = [];

/** Root over the node's own leaves [0, size), re-hashed from its stored entries. */
function ownRootAt(ledger: Ledger, size: number): Uint8Array {
  return new MemoryTree(
    Array.from({ length: size }, (_, i) => rfc6962Hasher.hashLeaf(ledger.entry(i))),
  ).root();
}

function startNode(index: number): Node {
  const name = `node${index + 1}`;
  const client = new Etcd3({ hosts: suite.cluster().clientUrls(), dialTimeout: 2000 });
  const ledger = new Ledger({
    storage: createSqliteLog({
      path: join(dir, `${name}-ledger.db`),
      origin: witnesses.logSigner.name,
      verifierKey: witnesses.logSigner.verifierKey,
    }),
  });
  const replica = openLedgerReplica({ ledger, positionPath: join(dir, `${name}-position.json`) });
  const outcomes: string[] = [];
  let last: CosignerState | undefined;
  const follower = startFollower({
    client,
    keys,
    nodeName: name,
    from: replica.position(),
    idleWaitMs: 200,
    apply: async (batch, position) => {
      await replica.apply(batch, position);
      // Sign the checkpoint of this node's own copy, cosign it after recomputing the root, offer both.
      const checkpoint = ledger.signCheckpoint(witnesses.logSigner);
      let line: string;
      try {
        const cosigned = cosignCheckpoint({
          note: checkpoint.note,
          logKey: witnesses.logKey,
          cosigner: witnesses.cosigner(index),
          ownSize: ledger.storage.size(),
          ownRootAt: (size) => ownRootAt(ledger, size),
          last,
        });
        last = cosigned.state;
        line = cosigned.line;
      } catch (error) {
        outcomes.push(`refused:${String((error as { context?: { reason?: string } }).context?.reason)}`);
        return;
      }
      outcomes.push(await offerCosignature(client, PREFIX, { node: name, note: checkpoint.note, line }));
      await publishIfQuorum(client, PREFIX, { size: checkpoint.size, logKey: witnesses.logKey, policy });
    },
  });
  const sequencer = startSequencer({ client, keys, nodeName: name, leaseTtlSeconds: 2, idleWaitMs: 100 });
  stops.push(async () => {
    await sequencer.stop();
    await follower.stop();
    ledger.close();
    client.close();
  });
  return { name, client, replica, follower, submitter: createGroupedSubmitter(client, keys), outcomes };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-replica-"));
  for (let i = 0; i < 3; i++) nodes.push(startNode(i));
});

afterAll(async () => {
  for (const stop of stops) await stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ledger replicated through the command log", () => {
  it("builds identical independent copies and publishes 2-of-3 cosigned checkpoints, without a tampered node", async () => {
    let records = 0;
    let refusedSent = 0;
    const burst = (round: number): Promise<unknown> =>
      Promise.all(
        nodes.map(async (node, n) => {
          for (let i = 0; i < 20; i++) {
            const transfer = `T-${round}-${n}-${i}`;
            const requests =
              i % 3 === 0
                ? [{ record: uploadRecord(transfer, sha(transfer)) }, { record: noteRecord(i) }]
                : [{ record: noteRecord(round * 10_000 + n * 1000 + i) }];
            records += requests.length;
            await node.submitter.submit({
              id: randomBytes(9).toString("base64url"),
              origin: node.name,
              body: { type: LEDGER_APPEND, requests },
            });
          }
          // A command the ledger refuses: every node refuses it alike and appends nothing.
          refusedSent++;
          await node.submitter.submit({
            id: randomBytes(9).toString("base64url"),
            origin: node.name,
            body: { type: LEDGER_APPEND, requests: [{ record: { type: "nonsense" } }] },
          });
        }),
      );
    const converged = async (): Promise<void> => {
      const client = nodes[0]?.client as Etcd3;
      await expect
        .poll(
          async () => {
            const h = (JSON.parse((await client.get(keys.head).string()) ?? "{}") as { seq: number }).seq;
            return nodes.every((n) => n.follower.position().seq === h);
          },
          { timeout: 30_000 },
        )
        .toBe(true);
    };
    const publishedSize = async (): Promise<number> => {
      const note = await latestPublished(nodes[0]?.client as Etcd3, PREFIX);
      return note === undefined ? 0 : openPublishedCheckpoint(note, witnesses.logKey, policy).checkpoint.size;
    };

    await burst(1);
    await converged();
    await expect.poll(publishedSize, { timeout: 15_000 }).toBe(records);
    expect(nodes.every((n) => n.outcomes.every((x) => x === "offered"))).toBe(true);

    // Edit one entry's bytes in node3's own ledger.db, behind its back (stored hashes left as they were).
    const raw = new Database(join(dir, "node3-ledger.db"));
    const row = raw.prepare<[], { entry: Buffer }>("SELECT entry FROM entries WHERE idx = 5").get();
    raw
      .prepare("UPDATE entries SET entry = ? WHERE idx = 5")
      .run(
        Buffer.from((row?.entry ?? Buffer.alloc(0)).toString("utf8").replace('"time":"2025', '"time":"2026')),
      );
    raw.close();

    await burst(2);
    await converged();
    const [a, b, c] = nodes.map((n) => n.replica.ledger);
    if (a === undefined || b === undefined || c === undefined) throw new Error("nodes");
    for (const ledger of [a, b, c]) expect(ledger.storage.size()).toBe(records);
    expect(b.root()).toEqual(a.root());
    for (let i = 0; i < records; i++) expect(b.entry(i)).toEqual(a.entry(i));
    expect(nodes.map((n) => n.replica.refused())).toEqual([refusedSent, refusedSent, refusedSent]);
    // The untouched copies pass fsck on their own; the edited one does not.
    expect(fsck(a.storage, witnesses.logKey).ok).toBe(true);
    expect(fsck(b.storage, witnesses.logKey).ok).toBe(true);
    expect(fsck(c.storage, witnesses.logKey).ok).toBe(false);

    // node3 refused to cosign what its copy no longer yields; node1 and node2 published without it.
    expect(nodes[2]?.outcomes).toContain("refused:root-mismatch");
    expect(nodes[0]?.outcomes.every((x) => x === "offered")).toBe(true);
    await expect.poll(publishedSize, { timeout: 15_000 }).toBe(records);
    const published = openPublishedCheckpoint(
      (await latestPublished(nodes[0]?.client as Etcd3, PREFIX)) ?? "",
      witnesses.logKey,
      policy,
    );
    expect(published.checkpoint.root).toEqual(a.root());
    expect(published.cosignatures.map((x) => x.name).sort()).toEqual(
      [witnesses.nodeKeys[0]?.name, witnesses.nodeKeys[1]?.name].sort(),
    );
  });
});
