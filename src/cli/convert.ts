/**
 * `kenshin convert`: an institution's export → standard CSV, with report and hashes.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { convertFile, prepareMapping } from "../convert/convert-file.js";
import type { ConvertReport } from "../convert/report.js";
import { OUTPUT_ENCODINGS, type OutputEncoding } from "../format/output-encoding.js";
import { ConvertError } from "../convert/errors.js";
import { EXIT_ISSUES, EXIT_OK } from "./exit-codes.js";
import { createProgressBar } from "./progress.js";

interface ConvertFlags {
  map: string;
  out: string;
  dictionary?: string;
  thesaurus?: string;
  report?: string;
  reportCsv?: string;
  hashes?: string;
  encoding: OutputEncoding;
  quiet?: boolean;
  threads: string;
  referencePath?: boolean;
  codeHeader?: boolean;
}

export function registerConvertCommands(program: Command): void {
  program
    .command("convert")
    .description("健診機関の出力ファイルを健診標準フォーマットの CSV に変換する")
    .argument("<input>", "健診機関のシステムが出力した CSV")
    .requiredOption("--map <mapping>", "マッピングファイル (YAML または JSON)")
    .requiredOption("--out <standard.csv>", "出力する標準フォーマット CSV")
    .option("--dictionary <file>", "項目辞書 (省略時は同梱の辞書)")
    .option("--thesaurus <file>", "所見シソーラス (省略時は同梱のもの)")
    .option("--report <report.json>", "変換レポート (JSON)")
    .option("--report-csv <issues.csv>", "指摘事項の一覧 (CSV)")
    .option("--hashes <hashes.csv>", "ファイルとレコードのハッシュ値 (CSV)")
    .addOption(
      new Option("--encoding <encoding>", "出力の文字コード").choices(OUTPUT_ENCODINGS).default("utf-8"),
    )
    .option("--code-header", "見出しの2行目に各項目の JLAC10 コードを書く")
    .option("--quiet", "要約を表示しない")
    .option(
      "--threads <n>",
      "変換に使うスレッド数 (1 または 2; 既定 1。2 は 4 MB 以上のファイルを半分ずつ並行に変換します)",
      "1",
    )
    // For the benchmark and tests: read every row through the text tokenizer (the reference path).
    .addOption(new Option("--reference-path").hideHelp())
    .action(async (input: string, flags: ConvertFlags) => {
      const prepared = await prepareMapping({
        mappingPath: flags.map,
        dictionaryPath: flags.dictionary,
        thesaurusPath: flags.thesaurus,
      });
      const bar = createProgressBar();
      const { report, threads, parallelFallback } = await convertFile({
        inputPath: input,
        prepared,
        outPath: flags.out,
        reportPath: flags.report,
        reportCsvPath: flags.reportCsv,
        hashesPath: flags.hashes,
        encoding: flags.encoding,
        threads: parseThreads(flags.threads),
        paths: { mappingPath: flags.map, dictionaryPath: flags.dictionary, thesaurusPath: flags.thesaurus },
        referencePath: flags.referencePath === true,
        codeHeader: flags.codeHeader === true,
        onProgress: (p, total) => {
          bar.update(p, total);
        },
      });
      bar.done();
      // Asked for two threads and one did the work because something failed: say why (even --quiet).
      if (parallelFallback)
        process.stderr.write(
          `kenshin: CONVERT_PARALLEL_FALLBACK: 2 スレッドでの変換に失敗したため 1 スレッドで変換しました ` +
            `(${parallelFallback.code}: ${parallelFallback.message})\n`,
        );
      if (flags.quiet !== true) {
        process.stderr.write(describeReport(report, flags.out));
        if (threads === 2) process.stderr.write("(2 スレッドで変換しました)\n");
      }
      process.exitCode = needsAttention(report) ? EXIT_ISSUES : EXIT_OK;
    });
}

function parseThreads(value: string): 1 | 2 {
  if (value === "1" || value === "2") return Number(value) as 1 | 2;
  throw new ConvertError("CONVERT_OPTION_INVALID", "--threads は 1 または 2 を指定してください", {
    got: value,
  });
}

/** True when the report has errors or warnings (information alone is not a reason to look). */
export function needsAttention(report: ConvertReport): boolean {
  return Object.values(report.issueCounts).some((v) => v.error + v.warning > 0);
}

/** A short Japanese summary of a conversion for the terminal. */
export function describeReport(report: ConvertReport, outPath?: string): string {
  const c = report.counts;
  const n = (x: number) => x.toLocaleString("ja-JP");
  let errors = 0;
  let warnings = 0;
  let infos = 0;
  for (const v of Object.values(report.issueCounts)) {
    errors += v.error;
    warnings += v.warning;
    infos += v.info;
  }
  const lines = [
    `入力 ${n(c.rowsIn)} 行 → 出力 ${n(c.recordsOut)} 件 (除外 ${n(c.rowsRejected)} 行, 対象外 ${n(c.rowsIgnored)} 行)`,
    `エラー ${n(errors)} 件 / 警告 ${n(warnings)} 件 / 情報 ${n(infos)} 件`,
  ];
  const top = Object.entries(report.issueCounts)
    .sort(([, a], [, b]) => b.error + b.warning - (a.error + a.warning))
    .slice(0, 5);
  for (const [code, v] of top) lines.push(`  ${code}: ${n(v.error + v.warning)}`);
  if (outPath !== undefined) lines.push(`${outPath}  sha256 ${report.output.sha256}`);
  return `${lines.join("\n")}\n`;
}
