/** The mapping editor's own texts (Japanese first, English), kept beside the page. */
import type { Lang } from "../i18n.js";

const TEXTS = {
  title: ["マッピングの編集", "Mapping editor"],
  institution: ["健診機関", "Checkup institution"],
  choose: ["選んでください", "Choose"],
  versions: ["保存された版", "Saved versions"],
  colName: ["名前", "Name"],
  colCreated: ["保存日時", "Saved"],
  colHash: ["SHA-256", "SHA-256"],
  colState: ["状態", "State"],
  colActions: ["操作", "Actions"],
  active: ["有効", "Active"],
  inactive: ["—", "—"],
  open: ["編集欄に読み込む", "Load into editor"],
  activate: ["この版を有効にする", "Activate this version"],
  noVersions: ["まだ版がありません", "No versions yet"],
  editHeading: ["編集", "Edit"],
  editor: ["マッピング (YAML または JSON)", "Mapping (YAML or JSON)"],
  upload: ["ファイルから読み込む", "Load from file"],
  sample: [
    "見本の出力ファイル (変換は試験のみ。保存しません)",
    "Sample export (test run only; never stored)",
  ],
  sampleNote: [
    "結果は件数とコードだけを表示します。値は表示しません。",
    "Only counts and issue codes are shown, never values.",
  ],
  suggest: ["見本から下書きを作る", "Draft from sample"],
  test: ["見本で試す", "Test with sample"],
  diff: ["有効な版との差分", "Diff with the active version"],
  noActive: ["有効な版はありません (すべて追加です)", "No active version (everything is new)"],
  tooLong: ["大きすぎて差分を表示できません", "Too large to diff"],
  save: ["新しい版として保存", "Save as new version"],
  saveActivate: ["保存して有効にする", "Save and activate"],
  checking: ["確認中…", "Checking…"],
  valid: ["有効なマッピングです: {name} (項目 {items} 件)", "Valid mapping: {name} ({items} items)"],
  invalidAt: ["{where}: ", "{where}: "],
  saved: ["保存しました (台帳に記録)", "Saved (recorded on the ledger)"],
  activated: ["有効にしました (台帳に記録)", "Activated (recorded on the ledger)"],
  sampleResult: ["見本の試験変換", "Sample test run"],
  rowsIn: ["入力行", "Rows in"],
  recordsOut: ["出力件数", "Records out"],
  rowsRejected: ["除外行", "Rows rejected"],
  rowsIgnored: ["対象外行", "Rows ignored"],
  colCode: ["コード", "Code"],
  colError: ["エラー", "Errors"],
  colWarning: ["警告", "Warnings"],
  colInfo: ["情報", "Info"],
} as const;

export type MappingTextKey = keyof typeof TEXTS;

export function mappingText(
  lang: Lang,
  key: MappingTextKey,
  vars: Record<string, string | number> = {},
): string {
  let text: string = TEXTS[key][lang === "ja" ? 0 : 1];
  for (const [k, v] of Object.entries(vars)) text = text.split(`{${k}}`).join(String(v));
  return text;
}
