/**
 * `kenshin map check`: validate a mapping (schema, items in the dictionary, columns in a sample) and
 * run it over the sample. `kenshin map schema`: print the mapping file's JSON Schema.
 */
import type { Command } from "commander";
import { convertFile, prepareMapping } from "../convert/convert-file.js";
import { mappingJsonSchema } from "../convert/mapping-schema.js";
import { SEVERITY_LABEL } from "../convert/report.js";
import { describeReport, needsAttention } from "./convert.js";
import { EXIT_ISSUES, EXIT_OK } from "./exit-codes.js";

interface CheckFlags {
  sample?: string;
  dictionary?: string;
  thesaurus?: string;
}

export function registerMapCommands(program: Command): void {
  const map = program.command("map").description("マッピングファイルの確認");
  map
    .command("check")
    .description("マッピングファイルを検証し、サンプルがあれば試しに変換する")
    .argument("<mapping>", "マッピングファイル (YAML または JSON)")
    .option("--sample <csv>", "健診機関の出力ファイルのサンプル")
    .option("--dictionary <file>", "項目辞書 (省略時は同梱の辞書)")
    .option("--thesaurus <file>", "所見シソーラス (省略時は同梱のもの)")
    .action(async (mappingPath: string, flags: CheckFlags) => {
      const prepared = await prepareMapping({
        mappingPath,
        dictionaryPath: flags.dictionary,
        thesaurusPath: flags.thesaurus,
      });
      const m = prepared.checked.mapping;
      process.stdout.write(
        `マッピング「${m.name}」は有効です (${m.layout === "wide" ? "横持ち" : "縦持ち"}, 項目 ${prepared.checked.fields.length + (prepared.checked.long?.items.size ?? 0)} 件, 辞書 ${prepared.dictionary.name} ${prepared.dictionary.version})\n`,
      );
      if (flags.sample === undefined) {
        process.exitCode = EXIT_OK;
        return;
      }
      const { report } = await convertFile({ inputPath: flags.sample, prepared, encoding: "utf-8" });
      process.stdout.write(describeReport(report));
      for (const issue of report.issues.slice(0, 20)) {
        process.stdout.write(
          `  ${SEVERITY_LABEL[issue.severity]} ${issue.row}行 ${issue.column ?? ""} ${issue.code}: ${issue.message}\n`,
        );
      }
      process.exitCode = needsAttention(report) ? EXIT_ISSUES : EXIT_OK;
    });
  map
    .command("schema")
    .description("マッピングファイルの JSON Schema を出力する")
    .action(() => {
      process.stdout.write(`${JSON.stringify(mappingJsonSchema(), null, 2)}\n`);
    });
}
