/**
 * A suggestion as a commented draft mapping file (YAML) that `kenshin map check` accepts: every
 * choice with its confidence and reason in a comment, low-confidence choices marked 要確認, code
 * values that could not be placed and columns left out listed for the person who finishes the file.
 * Strings are written as JSON strings (valid YAML double-quoted scalars), so no value can break the
 * file's structure.
 */
import { MAPPING_FORMAT, MAPPING_FORMAT_VERSION } from "../mapping.js";
import type { FieldSuggestion, MappingSuggestion } from "./suggest-mapping.js";
import type { ValueRuleSuggestion } from "./value-rule.js";

const q = (s: string): string => JSON.stringify(s);
/** A comment's text on one line (no line break can end the comment early). */
const c = (s: string): string => s.replace(/[\r\n]+/g, " ");

function level(confidence: number): string {
  if (confidence >= 0.8) return "高";
  if (confidence >= 0.5) return "中 要確認";
  return "低 要確認";
}

const DELIMITER_NAME: Record<string, string> = {
  ",": "カンマ",
  "\t": "タブ",
  ";": "セミコロン",
  "|": "縦棒",
};

function shapeNote(r: ValueRuleSuggestion): string {
  const s = r.shape;
  switch (s.kind) {
    case "empty":
      return "見本に値なし";
    case "number":
      return `数値${s.fullWidth ? " (全角数字あり)" : ""}`;
    case "date":
      return `日付: ${s.dateStyles.join("・")}`;
    case "code":
      return `コード ${s.distinct} 種類`;
    case "findings":
      return `所見 (${r.thesaurus ?? s.domain ?? "?"} のシソーラスで照合)`;
    case "text":
      return "自由記述";
  }
}

/** Value options of a rule as YAML flow-map entries (after `item:`). */
function ruleOptions(r: ValueRuleSuggestion): string[] {
  const out: string[] = [];
  if (r.codes)
    out.push(
      `codes: {${Object.entries(r.codes.table)
        .map(([k, v]) => ` ${q(k)}: ${q(v)}`)
        .join(",")} }`,
    );
  if (r.thesaurus !== undefined) out.push(`thesaurus: ${r.thesaurus}`);
  if (r.unit) out.push(`unit: { from: ${q(r.unit.from)}, factor: ${q(r.unit.factor)} }`);
  return out;
}

function ruleComments(r: ValueRuleSuggestion, indent: string): string[] {
  const lines: string[] = [];
  if (r.codes && r.codes.basis.length > 0)
    lines.push(`${indent}#   コード表の根拠: ${c(r.codes.basis.join("、"))}`);
  if (r.codes && r.codes.unplaced.length > 0) {
    lines.push(`${indent}#   対応付けられなかった値: ${c(r.codes.unplaced.map(q).join(", "))}`);
    lines.push(`${indent}#   標準用語: ${c((r.item?.terms ?? []).join("、"))}`);
  }
  return lines;
}

export function renderDraft(s: MappingSuggestion, options: { name: string; sourceName: string }): string {
  const out: string[] = [];
  const push = (...lines: string[]): void => {
    out.push(...lines);
  };
  const placed = s.fields.length + (s.long?.items.filter((i) => i.item).length ?? 0);
  const unsure = [...s.fields, ...(s.long?.items ?? [])].filter((f) => f.item && f.confidence < 0.8).length;
  push(
    `# kenshin map suggest による下書き — ${c(options.sourceName)} (見本 ${s.rowsSampled} 行)`,
    `# 対応付け ${placed} 件 (うち要確認 ${unsure} 件)、対応付けなし ${s.unplacedColumns.length} 列${
      s.long ? `、項目なしの検査コード ${s.long.items.filter((i) => !i.item).length} 件` : ""
    }。`,
    "# 信頼度: 高 ≥ 0.8 / 中 0.5〜0.8 / 低 < 0.5。「要確認」の行と、末尾の一覧を確かめてから使ってください。",
    "# 確認: kenshin map check この下書き --sample 出力ファイル",
    `format: ${MAPPING_FORMAT}`,
    `version: ${MAPPING_FORMAT_VERSION}`,
    `name: ${q(options.name)}`,
    `layout: ${s.layout}`,
    "source:",
    `  encoding: ${s.source.encoding} # 推定`,
    `  delimiter: ${q(s.source.delimiter)} # ${DELIMITER_NAME[s.source.delimiter] ?? ""}`,
    `  skipLines: ${s.source.skipLines}${s.source.skipLines > 0 ? " # 見出し行の前の行" : ""}`,
    "  header: { rows: 1 }",
    `  missingValues: [${s.source.missingValues.map(q).join(", ")}]`,
  );
  if (s.unplacedColumns.length > 0) {
    push("  ignoreColumns: # 出力に含めない列 (必要なら fields に加えてください)");
    for (const u of s.unplacedColumns) push(`    - ${q(u.column)} # ${c(u.why)}`);
  }
  push("fields:");
  if (s.fields.length === 0) push("  []");
  for (const f of s.fields) pushField(push, f);
  if (s.long) {
    push(
      "long:",
      `  visitKey: [${s.long.visitKey.map(q).join(", ")}]`,
      `  itemColumn: ${q(s.long.itemColumn)}`,
      `  valueColumn: ${q(s.long.valueColumn)}`,
      "  unmapped: warning # マッピングにない検査コードは報告して読み飛ばす",
      "  items:",
    );
    const unknown = s.long.items.filter((i) => !i.item);
    for (const i of s.long.items) {
      if (!i.item) continue;
      push(
        `    # ${c(i.code)}${i.testName !== undefined ? ` ${c(i.testName)}` : ""} → ${i.item.name} (信頼度 ${i.confidence.toFixed(2)} ${level(i.confidence)}: ${c(i.reason)}; ${shapeNote(i)})`,
        ...ruleComments(i, "    "),
        `    ${q(i.code)}: { ${[`item: ${i.item.key}`, ...ruleOptions(i)].join(", ")} }`,
      );
    }
    if (s.long.items.length === 0 || unknown.length === s.long.items.length) push("    {}");
    if (unknown.length > 0) {
      push("  # 項目が見つからなかった検査コード (必要なら items に加えてください):");
      for (const i of unknown)
        push(`  #   ${c(i.code)}${i.testName !== undefined ? ` ${c(i.testName)}` : ""}`);
    }
  }
  if (s.computed.length > 0)
    push(`computed: [${s.computed.join(", ")}] # 出力にないとき計算し、あるときは照合`);
  if (s.presence.length > 0) {
    push("presence: # 所見の文言から所見の有無を導く");
    for (const p of s.presence) push(`  - { item: ${p.item}, from: ${p.from} }`);
  }
  return `${out.join("\n")}\n`;
}

function pushField(push: (...lines: string[]) => void, f: FieldSuggestion): void {
  if (!f.item) return;
  const source =
    f.columns.length === 1 ? `column: ${q(f.columns[0] ?? "")}` : `columns: [${f.columns.map(q).join(", ")}]`;
  push(
    `  # ${c(f.columns.join(" + "))} → ${f.item.name} (信頼度 ${f.confidence.toFixed(2)} ${level(f.confidence)}: ${c(f.reason)}; ${shapeNote(f)})`,
    ...ruleComments(f, "  "),
    `  - { ${[`item: ${f.item.key}`, source, ...ruleOptions(f)].join(", ")} }`,
  );
}
