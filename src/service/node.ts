/**
 * Creating and opening a node's data directory: `kenshin init` makes the databases, the private CA, the
 * server certificate, the key-encryption key, the ledger signing key and the first office ID; every
 * other command opens it into a ServiceContext.
 *
 * This is where the ledger's write port is chosen ({@link openLedgerPort}): the embedded node's
 * publisher (group commit into ledger.db, state changes made atomic through the outbox in service.db,
 * checkpoints signed on a cadence with keys/ledger.key) or, for a cluster member (the directory holds a
 * `cluster-node.json`), the replicated port on etcd with its cluster side (cluster-node.ts); nothing
 * else in `service/` chooses.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { readKeyFile, writeKeyFile } from "../crypto/key-file.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import { createCertificateAuthority } from "../crypto/pki/ca.js";
import { issueServerCertificate } from "../crypto/pki/certificates.js";
import type { NoteSigner } from "../crypto/note-signer.js";
import { EmbeddedLedger, type LedgerPort } from "../ledger/embedded-ledger.js";
import { LedgerError } from "../ledger/errors.js";
import type { CheckpointPublished, PublishedCheckpoint } from "../ledger/write-port.js";
import type { LogStorage } from "../ledger/log-storage.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import { sqliteOutbox } from "../store/sqlite-outbox.js";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import { issueAccount } from "./identity/accounts.js";
import { adminRecord } from "./audit/audit.js";
import { issueCertificate, writeCrl, type IssuedClientCertificate } from "./identity/certificates.js";
import { loadConfig, parseConfig, type ServiceConfigInput } from "./config.js";
import { systemActor, type ServiceContext } from "./context.js";
import { etcdClientError } from "../cluster/errors.js";
import { dataPaths, type DataPaths } from "./data-dir.js";
import { ServiceError } from "./errors.js";
import { createInstitution } from "./identity/institutions.js";
import { RefusalLimiter } from "./audit/refusal-log.js";
import { StagedPayloads } from "./transfers/staged-payloads.js";
import { commandApplier } from "./state-commands/registry.js";
import { damageView, unrepairableAlarm, type TransferDamageView } from "./transfers/damage.js";
import { stampCheckpoint } from "./signing/time-stamps.js";
import type { ClusterHooks } from "./cluster/cluster-hooks.js";
import { openClusterNode } from "./cluster/cluster-node.js";
import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import type { NodeClusterConfig } from "../cluster/cluster-topology.js";
import { isCodedError } from "../coded-error.js";

export interface Clock {
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
}

const systemClock: Clock = { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)) };

export interface InitResult {
  readonly paths: DataPaths;
  readonly verifierKey: string;
  readonly office: {
    readonly loginId: string;
    readonly temporaryPassword: string;
    readonly certificate: IssuedClientCertificate;
  };
}

/** Creates a new data directory. Refuses one that already holds a node. */
export async function initDataDir(
  dir: string,
  options: { config?: ServiceConfigInput; officeName?: string; clock?: Clock; env?: NodeJS.ProcessEnv } = {},
): Promise<InitResult> {
  const clock = options.clock ?? systemClock;
  const paths = dataPaths(dir);
  if (existsSync(paths.config) || existsSync(paths.serviceDb) || existsSync(paths.ledgerDb)) {
    throw new ServiceError("SERVICE_DATA_DIR_EXISTS", `データディレクトリは既に使われています: ${dir}`, {
      dir,
    });
  }
  const config = parseConfig(options.config ?? {}, options.env ?? {});
  for (const d of [
    paths.dir,
    dirname(paths.ledgerKey),
    dirname(paths.caKey),
    dirname(paths.serverKey),
    paths.issued,
  ]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
  }
  await chmod(paths.dir, 0o700);
  await writeFile(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The key-encryption key for payload data keys: outside the database, owner-only.
  await writeFile(paths.kek, `${Buffer.from(clock.random(32)).toString("base64")}\n`, {
    mode: 0o600,
    flag: "wx",
  });

  const origin = `${config.hostNames[0] ?? "localhost"}/kenshin-exchange/${config.nodeName}`;
  const noteKey = generateNoteKey(origin, clock.random);
  writeKeyFile(paths.ledgerKey, noteKey);
  const signer = createNoteSigner(noteKey);
  await writeFile(paths.ledgerVerifierKey, `${signer.verifierKey}\n`, { mode: 0o644 });

  const now = clock.now();
  const ca = await createCertificateAuthority({
    commonName: `kenshin-exchange CA ${config.nodeName}`,
    now,
    validityDays: config.certificates.caValidityDays,
  });
  await writeFile(paths.caKey, ca.keyPem, { mode: 0o600 });
  await writeFile(paths.caCert, ca.certPem, { mode: 0o644 });
  const server = await issueServerCertificate(ca, {
    hostNames: config.hostNames,
    now,
    validityDays: config.certificates.serverValidityDays,
  });
  await writeFile(paths.serverKey, server.keyPem, { mode: 0o600 });
  await writeFile(paths.serverCert, server.certPem, { mode: 0o644 });

  const db = openServiceDb(paths.serviceDb, { create: true });
  const stamping = stampingHook();
  const payloads = new StagedPayloads();
  const ledger = openLedgerPort(
    createSqliteLog({ path: paths.ledgerDb, origin, verifierKey: signer.verifierKey }),
    signer,
    db,
    payloads,
    stamping.hook,
  );
  const ctx: ServiceContext = {
    db,
    ledger,
    verifierKey: signer.verifierKey,
    config,
    paths,
    ca,
    now: clock.now,
    random: clock.random,
    payloads,
  };
  stamping.attach(ctx);
  try {
    await writeCrl(ctx);
    const office = await issueFirstOffice(ctx, "kenshin-init", options.officeName ?? "事務局");
    return { paths, verifierKey: signer.verifierKey, office };
  } finally {
    closeNode(ctx);
  }
}

/**
 * The first office ID: the office institution, its account and client certificate — each a state
 * command through the node's port (on a cluster, every node gets the same accounts). The office's
 * command is the first one and carries `firstOffice`: refused (INSTITUTION_EXISTS) in the command order
 * when an office exists, so a second bootstrap — even one at the same moment on another node — leaves
 * nothing behind.
 */
export async function issueFirstOffice(
  ctx: ServiceContext,
  by: string,
  officeName: string,
): Promise<InitResult["office"]> {
  const actor = systemActor(by);
  const initialised = adminRecord(
    ctx,
    actor,
    "institution.create",
    { kind: "institution", id: "-" },
    "success",
    "node initialised",
  );
  const office = await createInstitution(
    ctx,
    actor,
    { kind: "office", name: officeName },
    { firstOffice: true, leading: [initialised] },
  );
  const account = await issueAccount(ctx, actor, office.id);
  const certificate = await issueCertificate(ctx, actor, office.id, { writeFiles: true });
  return { ...account, certificate };
}

/** Opens an existing data directory. */
export async function openNode(
  dir: string,
  options: {
    clock?: Clock;
    env?: NodeJS.ProcessEnv;
    onCrlChanged?: () => void;
    /** Told about a cluster node's background errors (etcd, peers); default: one line on stderr. */
    onClusterError?: (error: unknown) => void;
  } = {},
): Promise<ServiceContext> {
  const clock = options.clock ?? systemClock;
  const paths = dataPaths(dir);
  if (!existsSync(paths.config)) {
    throw new ServiceError(
      "SERVICE_DATA_DIR_UNUSABLE",
      `データディレクトリではありません (kenshin init で作成してください): ${dir}`,
      { dir },
    );
  }
  const config = await loadConfig(paths.config, options.env ?? process.env);
  // A cluster member (kenshin cluster init|join wrote cluster-node.json): its databases are built from
  // the command log, so service.db is made on first start; the offline node has no CA key.
  const member = readNodeClusterConfig(dir);
  const [caCert, caKey] = await Promise.all([
    readFile(paths.caCert, "utf8"),
    member?.role === "offline" ? Promise.resolve("") : readFile(paths.caKey, "utf8"),
  ]).catch((cause: unknown) => {
    throw new ServiceError("SERVICE_DATA_DIR_UNUSABLE", "CA の証明書または鍵を読めません", {}, { cause });
  });
  const verifierKey = (await readFile(paths.ledgerVerifierKey, "utf8")).trim();
  const db = openServiceDb(paths.serviceDb, {
    create: member !== undefined && !existsSync(paths.serviceDb),
  });
  const stamping = stampingHook();
  const payloads = new StagedPayloads();
  let chosen: ChosenPort;
  // The alarm of damage no copy can repair appends through the service, which exists only below.
  const late: { ctx?: ServiceContext } = {};
  try {
    chosen = await chooseLedgerPort(
      dir,
      member,
      db,
      payloads,
      stamping.hook,
      options.onClusterError,
      config.integrity.checkIntervalMs,
      (damage) => (late.ctx === undefined ? Promise.resolve() : unrepairableAlarm(late.ctx)(damage)),
      config.retention.unacknowledgedChunkGraceMs,
    );
  } catch (error) {
    db.close();
    throw error;
  }
  const ctx: ServiceContext = {
    db,
    ledger: chosen.ledger,
    verifierKey,
    config,
    paths,
    ca: { certPem: caCert, keyPem: caKey },
    now: clock.now,
    random: clock.random,
    onCrlChanged: options.onCrlChanged,
    refusals: new RefusalLimiter({ now: () => clock.now().getTime() }),
    payloads,
    ...(chosen.cluster !== undefined ? { cluster: chosen.cluster } : {}),
    ...(chosen.damage !== undefined ? { damage: chosen.damage } : {}),
  };
  late.ctx = ctx;
  stamping.attach(ctx);
  return ctx;
}

interface ChosenPort {
  readonly ledger: LedgerPort;
  readonly cluster?: ClusterHooks;
  /** A cluster node's damaged transfers (transfer-damage.ts). */
  readonly damage?: TransferDamageView;
}

/**
 * The one place the node's write port is chosen: the replicated port on etcd for a cluster member
 * (cluster-node.ts; with the cluster hooks the service uses), else the embedded publisher.
 */
async function chooseLedgerPort(
  dir: string,
  member: NodeClusterConfig | undefined,
  db: ServiceDb,
  payloads: StagedPayloads,
  onCheckpoint: CheckpointPublished,
  onClusterError: ((error: unknown) => void) | undefined,
  checkIntervalMs: number,
  onUnrepairable: (damage: { transfer: string | undefined; address: string }) => Promise<void>,
  chunkGraceMs: number,
): Promise<ChosenPort> {
  if (member !== undefined) {
    const opened = await openClusterNode({
      dir,
      config: member,
      db,
      onCheckpoint,
      onError: onClusterError ?? logClusterError,
      checkIntervalMs,
      onUnrepairable,
      chunkGraceMs,
    });
    return {
      ledger: opened.ledger,
      cluster: opened.hooks,
      damage: damageView(db, opened.integrity.health),
    };
  }
  const paths = dataPaths(dir);
  const signer = createNoteSigner(readKeyFile(paths.ledgerKey));
  return { ledger: openLedgerPort(openSqliteLog(paths.ledgerDb), signer, db, payloads, onCheckpoint) };
}

/**
 * A cluster node's background error, as one line without any data: our coded errors by code; anything
 * else (etcd, gRPC, network: messages of libraries, no records in them) by name and message, so an
 * operator reading the log can tell a timeout from a refusal.
 */
function logClusterError(error: unknown): void {
  const etcd = etcdClientError(error);
  const what = isCodedError(error)
    ? error.code
    : etcd !== undefined
      ? `${etcd.code} (etcd ${String(etcd.context["etcd"])})`
      : error instanceof Error
        ? `${error.name}: ${error.message.replace(/\s+/g, " ").slice(0, 200)}${sourceOf(error)}`
        : "unknown";
  process.stderr.write(`kenshin cluster: ${what}\n`);
}

/**
 * Where an uncoded error was thrown, as ` (at file:line:column)` of its first stack frame in our own
 * code (names of our files only: nothing of any record), so a bug seen once in a node's log can be found.
 */
export function sourceOf(error: Error): string {
  for (const line of (error.stack ?? "").split("\n").slice(1)) {
    if (line.includes("node_modules") || line.includes("node:")) continue;
    const m = /(?:src|dist)\/([\w./-]+\.[jt]s):(\d+):(\d+)/.exec(line);
    if (m !== null) return ` (at ${m[1] ?? ""}:${m[2] ?? ""}:${m[3] ?? ""})`;
  }
  return "";
}

/**
 * The node's ledger write port: the embedded publisher over the ledger file, with the outbox in the
 * service database (opening it appends whatever a crash left there and signs a checkpoint covering it).
 */
export function openLedgerPort(
  storage: LogStorage,
  signer: NoteSigner,
  db: ServiceDb,
  payloads: StagedPayloads,
  onCheckpoint?: CheckpointPublished,
): LedgerPort {
  const apply = commandApplier({
    commitPayload: (into, transferId) => {
      payloads.commit(into, transferId);
    },
  });
  try {
    return new EmbeddedLedger({
      storage,
      signer,
      outbox: sqliteOutbox(db),
      applyCommand: (command, results) => {
        apply(command, results, db);
      },
      ...(onCheckpoint !== undefined ? { onCheckpoint } : {}),
    });
  } catch (error) {
    storage.close();
    // The outbox in service.db holds entries the ledger file does not continue to: the file was swapped
    // or cut back (the node's memory would say the same once it could look).
    if (error instanceof LedgerError && error.code === "LEDGER_OUTBOX_INVALID") {
      throw new ServiceError(
        "INTEGRITY_FAILURE",
        "台帳が以前に確認した状態と一致しません (巻き戻しまたは差し替え)。事務局に連絡してください",
        { reason: "ledger-rollback", why: "outbox", ...error.context },
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * The publication hook of a node's port: every checkpoint the ledger publishes is time-stamped (RFC
 * 3161, `time-stamps.ts`) by the configured authority, after the fact and off the write path. A TSA that
 * cannot answer leaves that checkpoint unstamped (monitoring counts them); the next one is stamped. The
 * hook runs on the next turn of the event loop, so a checkpoint signed while the port is being opened
 * is stamped once the context exists.
 */
function stampingHook(): { hook: CheckpointPublished; attach: (ctx: ServiceContext) => void } {
  let ctx: ServiceContext | undefined;
  const pending: PublishedCheckpoint[] = [];
  const stamp = (c: ServiceContext, cp: PublishedCheckpoint): void => {
    stampCheckpoint(c, cp).catch(() => undefined);
  };
  return {
    hook: (cp) => {
      if (ctx === undefined) pending.push(cp);
      else {
        const c = ctx;
        setImmediate(() => {
          stamp(c, cp);
        });
      }
    },
    attach: (c) => {
      ctx = c;
      const latest = pending.at(-1);
      pending.length = 0;
      if (latest !== undefined)
        setImmediate(() => {
          stamp(c, latest);
        });
    },
  };
}

/**
 * Closes what openNode opened: the ledger first (it writes what is queued and signs a checkpoint
 * covering everything; the embedded one does so before returning), then the service database. A
 * cluster node's side stops asynchronously: await {@link stopNode} for it.
 */
export function closeNode(ctx: ServiceContext): void {
  if (ctx.cluster?.stop !== undefined) {
    void stopNode(ctx);
    return;
  }
  try {
    void ctx.ledger.close();
  } finally {
    ctx.db.close();
  }
}

/** Closes what openNode opened and resolves once everything (a cluster node's side too) has stopped. */
export async function stopNode(ctx: ServiceContext): Promise<void> {
  const cluster = ctx.cluster;
  if (cluster?.stop === undefined) {
    closeNode(ctx);
    return;
  }
  try {
    await cluster.stop();
  } finally {
    ctx.db.close();
  }
}
