/**
 * Creating and opening a node's data directory: `kenshin init` makes the databases, the private CA, the
 * server certificate, the key-encryption key, the ledger signing key and the first office ID; every
 * other command opens it into a ServiceContext.
 *
 * The ledger's write port is chosen in ledger-port.ts (`chooseLedgerPort`, the one place: embedded
 * publisher or, for a cluster member, the replicated port on etcd); its checkpoints are time-stamped
 * through stamping-hook.ts.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeKeyFile } from "../crypto/key-file.js";
import { generateNoteKey } from "../crypto/note-key.js";
import { createNoteSigner } from "../crypto/note-signer.js";
import { createCertificateAuthority } from "../crypto/pki/ca.js";
import { issueServerCertificate } from "../crypto/pki/certificates.js";
import { openServiceDb } from "../store/service-db.js";
import { createSqliteLog } from "../store/sqlite-log.js";
import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import { issueAccount } from "./identity/accounts.js";
import { adminRecord } from "./audit/audit.js";
import { issueCertificate, writeCrl, type IssuedClientCertificate } from "./identity/certificates.js";
import { loadConfig, parseConfig, type ServiceConfigInput } from "./config.js";
import { systemActor, type ServiceContext } from "./context.js";
import { dataPaths, type DataPaths } from "./data-dir.js";
import { ServiceError } from "./errors.js";
import { createInstitution } from "./identity/institutions.js";
import { RefusalLimiter } from "./audit/refusal-log.js";
import { StagedPayloads } from "./transfers/staged-payloads.js";
import { unrepairableAlarm } from "./transfers/damage.js";
import { chooseLedgerPort, openLedgerPort, type ChosenPort } from "./ledger-port.js";
import { stampingHook } from "./stamping-hook.js";

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
    chosen = await chooseLedgerPort({
      dir,
      member,
      db,
      payloads,
      onCheckpoint: stamping.hook,
      onClusterError: options.onClusterError,
      checkIntervalMs: config.integrity.checkIntervalMs,
      onUnrepairable: (damage) =>
        late.ctx === undefined ? Promise.resolve() : unrepairableAlarm(late.ctx)(damage),
      chunkGraceMs: config.retention.unacknowledgedChunkGraceMs,
    });
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
