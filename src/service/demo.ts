/**
 * The demo node: a fresh data directory with a demo sender (健診機関, with the shipped example's
 * mapping) and receiver (健診実施主体), their IDs, passwords and client certificates, and `demo.json`
 * naming everything a person or a test needs to connect. Demo only: passwords are written to a file.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { issueAccount } from "./identity/accounts.js";
import { issueCertificate } from "./identity/certificates.js";
import { systemActor, type ServiceContext } from "./context.js";
import { createInstitution, linkInstitutions } from "./identity/institutions.js";
import { loadConversionReference, registerMapping } from "./mappings/mappings.js";
import { closeNode, initDataDir, openNode, type Clock } from "./node.js";

export interface DemoAccount {
  readonly role: "office" | "sender" | "receiver";
  readonly institution: string;
  readonly loginId: string;
  /** Temporary password: must be changed at the first login. */
  readonly password: string;
  readonly certificate: string;
  readonly key: string;
  readonly pkcs12: string;
  readonly pkcs12Password: string;
}

export interface DemoDescription {
  readonly url: string;
  readonly caCertificate: string;
  readonly verifierKey: string;
  readonly accounts: readonly DemoAccount[];
}

export async function createDemo(
  dir: string,
  options: { port: number; host: string; exampleMapping: string; clock?: Clock },
): Promise<DemoDescription> {
  const init = await initDataDir(dir, {
    config: { listen: { host: options.host, port: options.port } },
    officeName: "デモ事務局",
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const ctx = await openNode(dir, options.clock ? { clock: options.clock } : {});
  try {
    const office: DemoAccount = {
      role: "office",
      institution: "デモ事務局",
      loginId: init.office.loginId,
      password: init.office.temporaryPassword,
      ...certFiles(init.office.certificate),
    };
    const accounts = [office, ...(await seedDemoInstitutions(ctx, options.exampleMapping))];
    const url = `https://${options.host === "127.0.0.1" || options.host === "0.0.0.0" ? "localhost" : options.host}:${options.port}/`;
    const description: DemoDescription = {
      url,
      caCertificate: init.paths.caCert,
      verifierKey: init.verifierKey,
      accounts,
    };
    await writeFile(join(dir, "demo.json"), `${JSON.stringify(description, null, 2)}\n`, { mode: 0o600 });
    return description;
  } finally {
    closeNode(ctx);
  }
}

/**
 * The demo's sender (with the example mapping) and receiver, linked, each with an account and a client
 * certificate: every step a state command through the node's port, so on a cluster every node has them.
 */
export async function seedDemoInstitutions(
  ctx: ServiceContext,
  exampleMapping: string,
): Promise<DemoAccount[]> {
  const actor = systemActor("kenshin-demo");
  const reference = await loadConversionReference();
  const sender = await createInstitution(ctx, actor, {
    kind: "sender",
    name: "さくら健診センター (デモ)",
    number: "1312345678",
  });
  await registerMapping(ctx, actor, reference, sender.id, await readFile(exampleMapping, "utf8"));
  const receiver = await createInstitution(ctx, actor, {
    kind: "receiver",
    name: "みなと健康保険組合 (デモ)",
    number: "06131111",
  });
  await linkInstitutions(ctx, actor, sender.id, receiver.id);
  const accounts: DemoAccount[] = [];
  for (const [institution, role] of [
    [sender, "sender"],
    [receiver, "receiver"],
  ] as const) {
    const account = await issueAccount(ctx, actor, institution.id);
    const cert = await issueCertificate(ctx, actor, institution.id, { writeFiles: true });
    accounts.push({
      role,
      institution: institution.name,
      loginId: account.loginId,
      password: account.temporaryPassword,
      ...certFiles(cert),
    });
  }
  return accounts;
}

export function certFiles(c: {
  files?: { pem: string; key: string; pkcs12: string };
  pkcs12Password: string;
}) {
  return {
    certificate: c.files?.pem ?? "",
    key: c.files?.key ?? "",
    pkcs12: c.files?.pkcs12 ?? "",
    pkcs12Password: c.pkcs12Password,
  };
}
