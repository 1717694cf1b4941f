/**
 * `kenshin audit export --from --to --format fhir|jahis [--out FILE]`: the ledger's entries in a time
 * range as NDJSON FHIR AuditEvents or as one RFC 3881 / JAHIS XML document, for auditors. Run on the
 * node's console; the export itself becomes a ledger entry naming the console user.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { Command } from "commander";
import { exportAuditEvents, type AuditExportFormat } from "../service/audit/audit-export.js";
import { ServiceError } from "../service/errors.js";
import { withConsoleNode } from "./console-node.js";

export function registerAuditCommands(program: Command): void {
  const group = program.command("audit").description("監査記録");
  group
    .command("export")
    .description("監査記録を書き出す: FHIR AuditEvent (NDJSON) または JAHIS / RFC 3881 XML")
    .requiredOption("--data <dir>", "データディレクトリ")
    .requiredOption("--from <date>", "開始日 (YYYY-MM-DD、日本時間) または日時 (ISO 8601)")
    .requiredOption("--to <date>", "終了日 (この日を含む) または日時")
    .option("--format <format>", "fhir (NDJSON) | jahis (XML)", "fhir")
    .option("--out <file>", "出力ファイル (省略時は標準出力)")
    .action(async (o: { data: string; from: string; to: string; format: string; out?: string }) => {
      if (o.format !== "fhir" && o.format !== "jahis") {
        throw new ServiceError(
          "REQUEST_INVALID",
          `--format は fhir か jahis です: ${o.format.slice(0, 20)}`,
          {},
        );
      }
      const format: AuditExportFormat = o.format;
      let fd: number | undefined;
      if (o.out !== undefined) {
        try {
          // wx: never overwrite an earlier export.
          fd = openSync(o.out, "wx", 0o600);
        } catch (cause) {
          throw new ServiceError(
            "REQUEST_INVALID",
            `出力ファイルを作れません (既にあるか書けません): ${o.out}`,
            {},
            { cause },
          );
        }
      }
      const target = fd;
      let events: number;
      try {
        ({ events } = await withConsoleNode(o.data, (ctx, actor) =>
          exportAuditEvents(ctx, actor, { from: o.from, to: o.to, format }, (text) => {
            if (target !== undefined) writeSync(target, text);
            else process.stdout.write(text);
          }),
        ));
      } finally {
        if (target !== undefined) closeSync(target);
      }
      process.stderr.write(`${events} 件を書き出しました\n`);
    });
}
