/**
 * `kenshin admin …`: the office's tools on the node's console, working on the data directory (the
 * same service functions the HTTPS API calls; a running server picks up certificate revocations from
 * the CRL file without a restart). Every action is a ledger entry with the console user as actor.
 */
import type { Command } from "commander";
import { readFile, writeFile } from "node:fs/promises";
import {
  disableInstitution,
  inventoryCsv,
  issueAccount,
  resetPassword,
} from "../service/identity/accounts.js";
import { issueCertificate, listCertificates, revokeCertificates } from "../service/identity/certificates.js";
import { createInstitution, linkInstitutions, listInstitutions } from "../service/identity/institutions.js";
import { loadConversionReference, registerMapping } from "../service/mappings/mappings.js";
import { withConsoleNode } from "./console-node.js";
import { EXIT_OK } from "./exit-codes.js";

const out = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command("admin")
    .description("事務局の操作 (機関・利用者ID・証明書・マッピング・棚卸)");
  const data = (c: Command) => c.requiredOption("--data <dir>", "データディレクトリ");

  const institution = admin.command("institution").description("機関");
  data(institution.command("create").description("機関を登録する"))
    .requiredOption("--kind <kind>", "sender (健診機関) | receiver (健診実施主体・代行機関)")
    .requiredOption("--name <name>", "機関名")
    .option("--number <number>", "健診機関番号 (10桁) または保険者番号など")
    .action(async (o: { data: string; kind: string; name: string; number?: string }) => {
      out(
        await withConsoleNode(o.data, (ctx, actor) =>
          createInstitution(ctx, actor, {
            kind: o.kind,
            name: o.name,
            ...(o.number ? { number: o.number } : {}),
          }),
        ),
      );
    });
  data(institution.command("list").description("機関の一覧")).action(async (o: { data: string }) => {
    out(await withConsoleNode(o.data, (ctx) => Promise.resolve(listInstitutions(ctx))));
  });
  data(
    institution
      .command("disable")
      .description("機関を利用不可にする (証明書も失効)")
      .argument("<id>", "機関ID"),
  ).action(async (id: string, o: { data: string }) => {
    out(await withConsoleNode(o.data, (ctx, actor) => disableInstitution(ctx, actor, id)));
  });

  data(
    admin
      .command("mapping")
      .description("健診機関のマッピングファイルを登録する (サンプルで試験変換し、サンプルは保存しない)")
      .argument("<institution-id>", "機関ID")
      .argument("<mapping>", "マッピングファイル"),
  )
    .option("--sample <csv>", "試験変換に使う出力ファイルのサンプル")
    .action(async (id: string, mapping: string, o: { data: string; sample?: string }) => {
      const text = await readFile(mapping, "utf8");
      const sample = o.sample === undefined ? undefined : await readFile(o.sample);
      const registered = await withConsoleNode(o.data, async (ctx, actor) =>
        registerMapping(ctx, actor, await loadConversionReference(), id, text, sample),
      );
      out({
        ...registered,
        sampleReport: registered.sampleReport
          ? { counts: registered.sampleReport.counts, issueCounts: registered.sampleReport.issueCounts }
          : undefined,
      });
    });

  const account = admin.command("account").description("利用者ID");
  data(
    account
      .command("issue")
      .description("利用者IDを発行する (仮パスワードを一度だけ表示)")
      .argument("<institution-id>", "機関ID"),
  ).action(async (id: string, o: { data: string }) => {
    out(await withConsoleNode(o.data, (ctx, actor) => issueAccount(ctx, actor, id)));
  });
  data(
    account
      .command("reset")
      .description("パスワードを再設定する (正式な依頼と確認の記録が必要)")
      .argument("<login-id>", "利用者ID"),
  )
    .requiredOption("--requested-by <who>", "依頼者 (機関の担当者名と役職)")
    .requiredOption("--confirmed-how <how>", "依頼の確認方法 (例: 登録電話番号への折り返し)")
    .action(async (loginId: string, o: { data: string; requestedBy: string; confirmedHow: string }) => {
      out(
        await withConsoleNode(o.data, (ctx, actor) =>
          resetPassword(ctx, actor, loginId, { requestedBy: o.requestedBy, confirmedHow: o.confirmedHow }),
        ),
      );
    });

  const cert = admin.command("cert").description("クライアント証明書");
  data(
    cert
      .command("issue")
      .description("証明書を発行する (PEM と PKCS#12 を issued/ に書き出す)")
      .argument("<institution-id>", "機関ID"),
  ).action(async (id: string, o: { data: string }) => {
    const issued = await withConsoleNode(o.data, (ctx, actor) =>
      issueCertificate(ctx, actor, id, { writeFiles: true }),
    );
    out({
      serial: issued.serial,
      loginId: issued.loginId,
      notAfter: issued.notAfter,
      files: issued.files,
      pkcs12Password: issued.pkcs12Password,
    });
  });
  data(
    cert
      .command("revoke")
      .description("証明書を失効させる (稼働中のサーバーも再起動なしで拒否)")
      .argument("<serial>", "シリアル番号 (16進)"),
  )
    .requiredOption("--reason <reason>", "失効の理由")
    .action(async (serial: string, o: { data: string; reason: string }) => {
      await withConsoleNode(o.data, (ctx, actor) =>
        revokeCertificates(ctx, actor, [serial.toLowerCase()], o.reason),
      );
      process.stdout.write(`失効しました: ${serial}\n`);
    });
  data(cert.command("list").description("証明書の一覧"))
    .option("--institution <id>", "機関ID")
    .action(async (o: { data: string; institution?: string }) => {
      out(await withConsoleNode(o.data, (ctx) => Promise.resolve(listCertificates(ctx, o.institution))));
    });

  data(
    admin
      .command("link")
      .description("送信機関を受信機関に結び付ける")
      .argument("<sender-id>", "健診機関の機関ID")
      .argument("<receiver-id>", "受信機関の機関ID"),
  ).action(async (sender: string, receiver: string, o: { data: string }) => {
    await withConsoleNode(o.data, (ctx, actor) => linkInstitutions(ctx, actor, sender, receiver));
    process.stdout.write("結び付けました\n");
  });

  data(admin.command("inventory").description("利用者IDの棚卸表 (CSV)"))
    .option("--out <file>", "出力ファイル (省略時は標準出力)")
    .action(async (o: { data: string; out?: string }) => {
      const csv = await withConsoleNode(o.data, (ctx) => Promise.resolve(inventoryCsv(ctx)));
      if (o.out === undefined) process.stdout.write(csv);
      else await writeFile(o.out, csv, { mode: 0o600 });
      process.exitCode = EXIT_OK;
    });
}
