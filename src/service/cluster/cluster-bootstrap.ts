/**
 * `kenshin cluster bootstrap`: the first office ID of a new cluster (and, for the demo, the demo's
 * institutions and accounts), issued once through one online node's replicated port — every step a
 * state command ordered through etcd, so every node, the offline one included, builds the same
 * accounts in its own service.db. Run it after etcd is up and before (or while) the nodes serve; it
 * opens the node's data directory itself, so that node's `kenshin serve` must not be running yet.
 *
 * Once per cluster, decided by the command log itself: the office's command carries `firstOffice`
 * (state-commands/account-commands.ts), which the sequencer refuses when an office exists in the state
 * the command follows. Two bootstraps at the same moment on two nodes therefore make exactly one office;
 * the other is refused on every node alike and gets CLUSTER_OPTION_INVALID (reason `office-exists`).
 * The look at the node's own copy before it only saves the work when the office is long there.
 */
import { isCodedError } from "../../coded-error.js";
import { ClusterError } from "../../cluster/errors.js";
import { readNodeClusterConfig } from "../../cluster/cluster-agent.js";
import type { ServiceContext } from "../context.js";
import { certFiles, seedDemoInstitutions, type DemoAccount } from "../demo.js";
import { issueFirstOffice, openNode, stopNode } from "../node.js";

export interface ClusterBootstrap {
  readonly caCertificate: string;
  readonly verifierKey: string;
  /** The office first, then (with a demo mapping) the demo sender and receiver. */
  readonly accounts: readonly DemoAccount[];
}

function officeCount(ctx: ServiceContext): number {
  return (
    ctx.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM institutions WHERE kind = 'office'").get()
      ?.n ?? 0
  );
}

function officeExists(cause?: unknown): ClusterError {
  return new ClusterError(
    "CLUSTER_OPTION_INVALID",
    "このクラスタの事務局IDは既に作成されています",
    { reason: "office-exists" },
    cause === undefined ? {} : { cause },
  );
}

/**
 * Issues the first office ID through the online node in `nodeDir`.
 * @throws ClusterError CLUSTER_OPTION_INVALID (not an online cluster node, or the office exists already)
 */
export async function bootstrapCluster(
  nodeDir: string,
  o: { readonly officeName?: string; readonly exampleMapping?: string } = {},
): Promise<ClusterBootstrap> {
  if (readNodeClusterConfig(nodeDir)?.role !== "online") {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "オンラインのクラスタノードを指定してください", {});
  }
  const ctx = await openNode(nodeDir);
  try {
    // What the cluster ordered so far (another bootstrap's office) is applied here first.
    await ctx.cluster?.caughtUp?.();
    if (officeCount(ctx) > 0) throw officeExists();
    const name = o.officeName ?? (o.exampleMapping !== undefined ? "デモ事務局" : "事務局");
    const office = await issueFirstOffice(ctx, "kenshin-cluster-bootstrap", name).catch((error: unknown) => {
      // Another bootstrap's office was ordered first: this one's was refused, nothing of it written.
      if (
        isCodedError(error) &&
        error.code === "INSTITUTION_EXISTS" &&
        error.context["firstOffice"] === true
      ) {
        throw officeExists(error);
      }
      throw error;
    });
    const accounts: DemoAccount[] = [
      {
        role: "office",
        institution: name,
        loginId: office.loginId,
        password: office.temporaryPassword,
        ...certFiles(office.certificate),
      },
    ];
    if (o.exampleMapping !== undefined) {
      accounts.push(...(await seedDemoInstitutions(ctx, o.exampleMapping)));
    }
    return { caCertificate: ctx.paths.caCert, verifierKey: ctx.verifierKey, accounts };
  } finally {
    await stopNode(ctx);
  }
}
