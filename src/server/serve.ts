/**
 * Running a node's HTTPS service: opens the data directory, builds the app, listens, and closes
 * everything in order on shutdown (stop accepting, finish requests, close databases).
 */
import { rm, writeFile } from "node:fs/promises";
import { removeLeftovers, serverPidPath } from "../service/backup/backup.js";
import { startGenerationScrub } from "../service/backup/generation-scrub-runner.js";
import { checkLedgerAtStart } from "../service/signing/checkpoint-memory.js";
import { writeCrl } from "../service/identity/certificates.js";
import { EnvelopeChannels } from "../service/transfers/envelope-channels.js";
import { runRetention } from "../service/transfers/retention.js";
import { loadConversionReference } from "../service/mappings/mappings.js";
import type { ClusterHooks } from "../service/cluster/cluster-hooks.js";
import type { TransferDamageView } from "../service/transfers/damage.js";
import { openNode, stopNode, type Clock } from "../service/node.js";
import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import { ClusterError } from "../cluster/errors.js";
import { spoolDir } from "../service/transfers/upload-stream.js";
import { clearSpool } from "../store/payload-spool.js";
import type { ServiceContext } from "../service/context.js";
import { buildApp, type App } from "./app.js";
import { followNodeHealth, type NodeHealthView } from "./quarantine-gate.js";
import { proxyTrust } from "./proxy-protocol-listener.js";
import { listenForUsers, type UserListener } from "./user-listener.js";

const CRL_REFRESH_MS = 12 * 3_600_000;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The last-resort port, when the node has one (setting `listen.lastResortPort`). */
  readonly lastResortPort?: number;
  readonly ctx: ServiceContext;
  readonly app: App;
  /**
   * The envelope keys agreed with this node's users, in memory only (a test forgets one to be the node
   * a retried body reaches without having agreed it, as in a cluster: 409 ENVELOPE_CHANNEL_INVALID).
   */
  readonly channels: EnvelopeChannels;
  close(): Promise<void>;
}

export async function startServer(
  dir: string,
  options: {
    port?: number;
    /** The last-resort port (setting `listen.lastResortPort`; 0: a free one, for tests). */
    lastResortPort?: number;
    host?: string;
    logger?: boolean | { level: string };
    clock?: Clock;
    crlPollMs?: number;
    env?: NodeJS.ProcessEnv;
    /** A cluster node's integrity state (see AppOptions.nodeHealth). */
    nodeHealth?: NodeHealthView;
    /** The cluster side of a replicated node (payload quorum, monitoring); absent on a single node. */
    cluster?: ClusterHooks;
    /** A cluster node's transfers marked damaged by its repair (its NodeHealth; transfer-damage.ts). */
    damage?: TransferDamageView;
  } = {},
): Promise<RunningServer> {
  let app: App | undefined;
  let lastResort: UserListener | undefined;
  let listener: UserListener | undefined;
  // The offline backup node has no user-facing listener at all: it runs as `kenshin cluster agent`.
  if (readNodeClusterConfig(dir)?.role === "offline") {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      "オフラインノードは利用者向けに待ち受けません (kenshin cluster agent で起動してください)",
      {},
    );
  }
  const opened = await openNode(dir, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.env ? { env: options.env } : {}),
    onCrlChanged: () => app?.reloadCrl(),
  });
  const ctx: ServiceContext = {
    ...opened,
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
    ...(options.damage !== undefined ? { damage: options.damage } : {}),
  };
  // A cluster node's own integrity state (service/cluster/cluster-node.ts), unless the caller gives one.
  const nodeHealth = options.nodeHealth ?? ctx.cluster?.nodeHealth;
  const channels = new EnvelopeChannels(() => ctx.now().getTime(), ctx.random);
  try {
    // A ledger.db swapped for an older copy, or cut back, is refused before anything is served from it.
    await checkLedgerAtStart(ctx);
    // Plaintext snapshots and .part files of a backup or restore killed earlier: never outlive a restart.
    await removeLeftovers(ctx.paths, ctx.now());
    // Spool files of uploads that a previous process did not finish: ciphertext under lost keys.
    clearSpool(spoolDir(ctx));
    app = buildApp({
      ctx,
      reference: await loadConversionReference(),
      channels,
      logger: options.logger ?? false,
      ...(options.crlPollMs !== undefined ? { crlPollMs: options.crlPollMs } : {}),
      ...(nodeHealth !== undefined ? { nodeHealth } : {}),
    });
    // The listening socket is ours, not Fastify's: a cluster node stops accepting while it does not
    // serve, so haproxy's connect is refused and retried on another node (user-listener.ts).
    await app.app.ready();
    const proxy = proxyTrust(ctx.config.proxy.trusted, ctx.config.proxy.headerSeconds * 1000);
    listener = await listenForUsers(app.app.server, {
      host: options.host ?? ctx.config.listen.host,
      port: options.port ?? ctx.config.listen.port,
      ...(proxy !== undefined ? { proxy } : {}),
    });
    // The last-resort door (a cluster node, setting `listen.lastResortPort`) never pauses: haproxy sends
    // users to it only when no node's user port is up (`backup` servers), and the gate answers them with
    // this node's coded 503 while it does not serve — a refusal the user can read, not a closed
    // connection. A node that serves answers there as on its user port.
    const lastResortPort = options.lastResortPort ?? ctx.config.listen.lastResortPort;
    if (lastResortPort !== undefined) {
      lastResort = await listenForUsers(app.app.server, {
        host: options.host ?? ctx.config.listen.host,
        port: lastResortPort,
        ...(proxy !== undefined ? { proxy } : {}),
      });
    }
    // `kenshin backup restore` refuses while this file names a live process.
    await writeFile(serverPidPath(dir), `${process.pid}\n`, { mode: 0o644 });
  } catch (error) {
    listener?.close();
    lastResort?.close();
    await app?.app.close();
    await stopNode(ctx);
    throw error;
  }
  // The CRL is valid for a week and OpenSSL refuses every client once it lapses: re-sign it at start
  // and twice a day (each rewrite also reloads the live TLS context).
  await writeCrl(ctx);
  const crlTimer = setInterval(() => {
    writeCrl(ctx).catch((error: unknown) => {
      app.app.log.error({ err: error }, "CRL re-signing failed");
    });
  }, CRL_REFRESH_MS);
  crlTimer.unref();
  // Physical deletion of payloads past their retention: at start, then every ten minutes (setting
  // retention.checkIntervalMs); one run at a time.
  const running = app;
  let retaining = false;
  const retain = (): void => {
    if (retaining) return;
    retaining = true;
    runRetention(ctx)
      .catch((error: unknown) => {
        running.app.log.error({ err: error }, "retention run failed");
      })
      .finally(() => {
        retaining = false;
      });
  };
  retain();
  const retentionTimer = setInterval(retain, ctx.config.retention.checkIntervalMs);
  retentionTimer.unref();
  // Deleted transfers leave this node's own backup generations too (`kenshin backup create`).
  const scrub = startGenerationScrub({
    db: ctx.db,
    paths: ctx.paths,
    random: ctx.random,
    onError: (error) => {
      running.app.log.error({ err: error }, "backup generation scrub failed");
    },
  });
  const users = listener;
  const gate = app.gate;
  const unfollow =
    nodeHealth === undefined || gate === undefined
      ? () => undefined
      : followNodeHealth({
          health: nodeHealth,
          listener: users,
          gate,
          onError: (error) => {
            running.app.log.error({ err: error }, "could not listen for users again");
          },
        });
  const port = users.port;
  const host = ctx.config.hostNames[0] ?? "localhost";
  return {
    url: `https://${host}:${port}/`,
    port,
    ...(lastResort !== undefined ? { lastResortPort: lastResort.port } : {}),
    ctx,
    app: running,
    channels,
    close: async () => {
      clearInterval(crlTimer);
      clearInterval(retentionTimer);
      await scrub.stop();
      unfollow();
      // Stop accepting, then end every open connection (as Fastify's forceCloseConnections did).
      users.close();
      lastResort?.close();
      running.app.server.closeAllConnections();
      await running.app.close();
      await stopNode(ctx);
      await rm(serverPidPath(dir), { force: true });
    },
  };
}
