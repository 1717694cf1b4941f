/**
 * Cluster benchmark, tamper detection and repair (issue 11): three online nodes and the offline node,
 * each with its own ledger.db / service.db / chunks.db (real SQLite files), peer endpoints over real
 * mutual TLS 1.3 on 127.0.0.1. For each kind of damage issue 11 lists, done to node2's files: the time of
 * one full check on that node (detection takes at most the check interval plus this), and the time of the
 * repair (localise by subtree hashes, fetch, prove under the published checkpoint, replace, re-check,
 * repair entry), with how many range hashes localisation compared in how many round trips. Beside it,
 * in the same run: fsck of the same copy, and how many entries shipping the whole log would have been.
 *
 *   npm run bench:cluster:repair       (REPAIR_BENCH_TRANSFERS=2000 → 10,000 entries)
 *
 * Benchmarks are not tests: nothing here asserts on time. On a shared 2-core machine the four nodes'
 * TLS servers and the benchmark compete for CPU, so figures are pessimistic.
 */
import "reflect-metadata";
import { createLedgerPeerClient } from "../../src/cluster/integrity/ledger-peer-client.js";
import { ledgerPeerRoutes } from "../../src/cluster/integrity/ledger-peer-routes.js";
import { runFullCheck } from "../../src/cluster/integrity/full-check.js";
import { repairDamage, type RepairDeps } from "../../src/cluster/integrity/repair.js";
import { createPeerClient } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";
import { fsck } from "../../src/ledger/fsck.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import {
  consistentRewrite,
  corruptChunk,
  deleteEntryKeys,
  deleteEntryRow,
  editEntryBytes,
  editTransferRow,
  swapEntryRows,
} from "../../test/cluster/damage.js";
import {
  chunkOf,
  makeIntegrityCluster,
  transferId,
  type IntegrityCluster,
  type TestNode,
} from "../../test/cluster/integrity-fixture.js";

const TRANSFERS = Number(process.env["REPAIR_BENCH_TRANSFERS"] ?? "2000");
const NAMES = ["node1", "node2", "node3", "node4"];

interface Damage {
  readonly name: string;
  readonly apply: (c: IntegrityCluster, n: TestNode, size: number) => void;
}

const DAMAGES: readonly Damage[] = [
  {
    name: "entry bytes edited",
    apply: (_c, n, size) => {
      editEntryBytes(n, Math.floor(size / 3));
    },
  },
  {
    name: "entry row deleted",
    apply: (_c, n, size) => {
      deleteEntryRow(n, Math.floor(size / 2));
    },
  },
  {
    name: "two rows swapped",
    apply: (_c, n, size) => {
      swapEntryRows(n, 11, size - 7);
    },
  },
  {
    name: "consistent rewrite (last 50)",
    apply: (c, n, size) => {
      consistentRewrite(n, size - 50, c.f.logSigner);
      c.reopen(n);
    },
  },
  {
    name: "chunk corrupted",
    apply: (_c, n) => {
      corruptChunk(n, chunkAddress(chunkOf(5)));
    },
  },
  {
    name: "transfer row edited",
    apply: (_c, n) => {
      editTransferRow(n, transferId(7), "status = 'sent'");
    },
  },
  { name: "entry_keys deleted", apply: (_c, n) => void deleteEntryKeys(n, transferId(9)) },
];

function ms(from: number): number {
  return Math.round(performance.now() - from);
}

async function main(): Promise<void> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "kenshin bench CA", now, validityDays: 2 });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const certs = new Map<string, IssuedCertificate>();
  for (const name of NAMES) {
    certs.set(
      name,
      await issueNodeCertificate(ca, { nodeName: name, hostNames: ["127.0.0.1"], now, validityDays: 2 }),
    );
  }
  console.log(
    `tamper detection and repair — ${TRANSFERS} transfers (${TRANSFERS * 5} entries) per node, 3 online + 1 offline`,
  );
  console.log(
    "damage                          | check (detect) ms | repair ms | localise ms | hashes compared | rounds | entries replaced",
  );
  let fsckMs = 0;
  let entries = 0;
  for (const damage of DAMAGES) {
    const c = makeIntegrityCluster({ nodes: 4 });
    const servers: RunningPeerServer[] = [];
    const closers: (() => void)[] = [];
    try {
      await c.transferBatch(1, TRANSFERS);
      c.publish();
      for (const node of c.nodes) {
        const cert = certs.get(node.name) as IssuedCertificate;
        servers.push(
          await startPeerServer({
            tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem },
            peers: NAMES.filter((n) => n !== node.name),
            chunks: node.chunks,
            routes: [ledgerPeerRoutes(() => ({ storage: node.ledger.storage, serviceDb: node.db }))],
          }),
        );
      }
      const n = c.nodes[1] as TestNode;
      entries = n.ledger.storage.size();
      if (fsckMs === 0) {
        const t = performance.now();
        fsck(n.ledger.storage, c.f.logKey);
        fsckMs = ms(t);
      }
      damage.apply(c, n, entries);
      const check = () =>
        runFullCheck({
          storage: n.ledger.storage,
          access: n.access,
          logKey: c.f.logKey,
          published: c.published?.checkpoint,
          serviceDb: n.db,
          chunks: n.chunks,
        });
      const t0 = performance.now();
      const found = check();
      const detectMs = ms(t0);
      const cert = certs.get(n.name) as IssuedCertificate;
      const tls = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
      const ledgerClient = createLedgerPeerClient({ tls });
      const chunkClient = createPeerClient({ tls, rounds: 1 });
      closers.push(() => {
        ledgerClient.close();
        chunkClient.close();
      });
      const deps: RepairDeps = {
        node: n.name,
        logKey: c.f.logKey,
        policy: c.policy,
        files: () => ({ storage: n.ledger.storage, access: n.access, serviceDb: n.db, chunks: n.chunks }),
        reopen: () => {
          c.reopen(n);
        },
        peers: c.nodes
          .filter((m) => m !== n)
          .map((m) => ({ name: m.name, url: (servers[m.index] as RunningPeerServer).url })),
        ledgerClient,
        chunkClient,
        publishedNote: () => Promise.resolve(c.published?.note),
        health: n.health,
        recheck: check,
        appendRepair: async (record) => {
          await c.append([{ record }]);
          return n.ledger.storage.size() - 1;
        },
        now: () => new Date(),
      };
      const t1 = performance.now();
      const outcome = await repairDamage(deps, found.findings);
      const repairMs = ms(t1);
      const loc = outcome.ledger?.localisation;
      console.log(
        [
          damage.name.padEnd(31),
          String(detectMs).padStart(17),
          String(repairMs).padStart(9),
          String(outcome.timings.localiseMs).padStart(11),
          String(loc?.compared ?? 0).padStart(15),
          String(loc?.rounds ?? 0).padStart(6),
          `${outcome.ledger?.replaced.length ?? 0}${outcome.ok ? "" : " (NOT repaired)"}`.padStart(16),
        ].join(" | "),
      );
    } finally {
      for (const close of closers) close();
      await Promise.all(servers.map((s) => s.close()));
      c.close();
    }
  }
  console.log(
    `beside it: fsck of the same ${entries}-entry copy ${fsckMs} ms; shipping the whole log = ${entries} entries`,
  );
}

await main();
