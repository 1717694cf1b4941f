/**
 * `kenshin init`, `kenshin serve`, `kenshin demo`: creating and running a node.
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runClusterDemo } from "./cluster-demo-command.js";
import { startServer } from "../server/serve.js";
import { createDemo, type DemoDescription } from "../service/demo.js";
import { initDataDir } from "../service/node.js";
import { ServiceError } from "../service/errors.js";

const EXAMPLE_MAPPING = new URL("../../examples/wide-cp932/mapping.yaml", import.meta.url);

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ServiceError("SERVICE_CONFIG_INVALID", `ポート番号が正しくありません: ${value}`, {});
  return n;
}

/** Runs the server until SIGINT/SIGTERM, then shuts down gracefully. */
async function serveUntilSignal(
  dir: string,
  options: { port?: number; host?: string },
  onListening: (url: string) => void,
): Promise<void> {
  const server = await startServer(dir, {
    ...options,
    logger: { level: process.env["KENSHIN_LOG_LEVEL"] ?? "info" },
  });
  onListening(server.url);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stderr.write("停止しています… / shutting down…\n");
      server.close().then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export function registerNodeCommands(program: Command): void {
  program
    .command("init")
    .description("データディレクトリを作る (DB、CA、サーバー証明書、鍵暗号鍵、台帳署名鍵、事務局ID)")
    .requiredOption("--data <dir>", "データディレクトリ")
    .option("--host-name <name...>", "サーバー証明書のホスト名・IP (既定: localhost 127.0.0.1)")
    .option("--port <port>", "待ち受けポート", "8443")
    .action(async (o: { data: string; hostName?: string[]; port: string }) => {
      const result = await initDataDir(o.data, {
        config: {
          listen: { host: "127.0.0.1", port: port(o.port) },
          ...(o.hostName ? { hostNames: o.hostName } : {}),
        },
        env: process.env,
      });
      const c = result.office.certificate;
      process.stdout.write(
        [
          `データディレクトリを作成しました: ${o.data}`,
          `事務局の利用者ID: ${result.office.loginId}`,
          `仮パスワード (この一度だけ表示します。初回ログインで変更してください): ${result.office.temporaryPassword}`,
          `クライアント証明書 (PKCS#12): ${c.files?.pkcs12 ?? ""}`,
          `PKCS#12 のパスワード: ${c.pkcs12Password}`,
          `台帳の検証鍵: ${result.verifierKey}`,
          "",
        ].join("\n"),
      );
    });

  program
    .command("serve")
    .description("HTTPS サービスを起動する")
    .requiredOption("--data <dir>", "データディレクトリ")
    .option("--port <port>", "待ち受けポート (設定ファイルより優先)")
    .option("--host <address>", "待ち受けアドレス (設定ファイルより優先)")
    .action(async (o: { data: string; port?: string; host?: string }) => {
      await serveUntilSignal(
        o.data,
        { ...(o.port ? { port: port(o.port) } : {}), ...(o.host ? { host: o.host } : {}) },
        (url) => {
          process.stderr.write(`kenshin-exchange: ${url} で待ち受けています / listening on ${url}\n`);
        },
      );
    });

  program
    .command("demo")
    .description("デモ用のデータディレクトリを作り、サービスを起動する")
    .requiredOption("--data <dir>", "データディレクトリ")
    .option("--port <port>", "待ち受けポート", "8443")
    .option("--fresh", "以前のデモのデータディレクトリ (demo.json があるもの) を消してから作る")
    .option("--no-serve", "作成だけして起動しない")
    .option(
      "--cluster",
      "3 台のオンラインノード + 1 台のオフラインノード、etcd 3 台と haproxy を 127.0.0.1 で動かす",
    )
    .action(async (o: { data: string; port: string; fresh?: boolean; serve: boolean; cluster?: boolean }) => {
      if (o.cluster === true) {
        if (o.fresh === true && existsSync(join(o.data, "cluster.json")))
          await rm(o.data, { recursive: true, force: true });
        await runClusterDemo(o.data);
        return;
      }
      if (o.fresh === true && existsSync(join(o.data, "demo.json")))
        await rm(o.data, { recursive: true, force: true });
      const demo = await createDemo(o.data, {
        port: port(o.port),
        host: "127.0.0.1",
        exampleMapping: fileURLToPath(EXAMPLE_MAPPING),
      });
      process.stdout.write(connectInstructions(demo, join(o.data, "demo.json")));
      if (o.serve) await serveUntilSignal(o.data, {}, () => undefined);
    });
}

/** How to connect, in Japanese and English. */
export function connectInstructions(demo: DemoDescription, demoJson: string): string {
  const lines = [
    "",
    "=== kenshin-exchange デモ / demo ===",
    `URL: ${demo.url}`,
    "",
    "1. CA 証明書をブラウザの「信頼されたルート証明機関」に取り込んでください / Import the CA certificate as a trusted root:",
    `   ${demo.caCertificate}`,
    "2. 利用する ID のクライアント証明書 (PKCS#12) を取り込んでください / Import the client certificate (PKCS#12) of the ID you use:",
  ];
  for (const a of demo.accounts) {
    lines.push(
      `   [${a.role}] ${a.institution}: ID ${a.loginId}  仮パスワード/temporary password ${a.password}`,
    );
    lines.push(`       ${a.pkcs12}  (PKCS#12 パスワード/password: ${a.pkcs12Password})`);
  }
  lines.push(
    `3. ${demo.url} を開き、証明書を選んでログインしてください (初回は仮パスワードの変更を求められます)`,
    `   Open ${demo.url}, choose the certificate and log in (you will be asked to change the temporary password).`,
    `詳細 / details: ${demoJson}`,
    `台帳の検証鍵 / ledger verifier key: ${demo.verifierKey}`,
    "",
  );
  return lines.join("\n");
}
