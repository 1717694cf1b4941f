/**
 * Rules over a whole record once its fields are converted: record keys, computed items (BMI, age,
 * eGFR), 所見の有無 derived from finding text, correlation checks (相関チェック), the items a checkup
 * kind requires, and the final per-cell checks of the output (formula neutralising, CP932 forms,
 * byte limits). Errors reject the record; warnings keep it.
 */
import { neutraliseFormula } from "../format/csv-cell.js";
import { MAX_FIELD_BYTES, type Dictionary } from "../format/dictionary.js";
import { encodedByteLength, toCp932Forms, type OutputEncoding } from "../format/output-encoding.js";
import type { StandardRecord } from "../format/standard-csv.js";
import {
  BLOOD_PRESSURE_PAIRS,
  KEY,
  PRESENCE_NO,
  PRESENCE_YES,
  RECORD_KEY_ITEMS,
  REQUIRED_ALTERNATIVES,
  presenceKeyFor,
} from "../format/well-known-items.js";
import { bmiMatches, computeAge, computeBmi, computeEgfr } from "./computed.js";
import type { FindingState } from "./field-convert.js";
import type { Issue, IssueCode, IssueSeverity } from "./issues.js";
import type { CheckedMapping } from "./mapping-check.js";
import type { TransformResult } from "./issues.js";

/** Pre-resolved item positions for the record rules (−1 when the dictionary lacks the item). */
export interface RecordRulePlan {
  readonly dictionary: Dictionary;
  readonly keyIndices: readonly number[];
  readonly idx: Readonly<Record<keyof typeof KEY, number>>;
  readonly bp: readonly (readonly [number, number])[];
  /** [finding index, presence index] pairs known by naming convention. */
  readonly findingPairs: readonly (readonly [number, number])[];
  readonly checked: CheckedMapping;
}

export function planRecordRules(checked: CheckedMapping): RecordRulePlan {
  const d = checked.dictionary;
  const idx = Object.fromEntries(Object.entries(KEY).map(([k, key]) => [k, d.indexOf(key)])) as Record<
    keyof typeof KEY,
    number
  >;
  const findingPairs: (readonly [number, number])[] = [];
  d.items.forEach((item, i) => {
    const p = presenceKeyFor(item.key);
    const pi = p === undefined ? -1 : d.indexOf(p);
    if (pi >= 0) findingPairs.push([i, pi]);
  });
  return {
    dictionary: d,
    keyIndices: RECORD_KEY_ITEMS.map((k) => d.indexOf(k)).filter((i) => i >= 0),
    idx,
    bp: BLOOD_PRESSURE_PAIRS.map(([s, dd]) => [d.indexOf(s), d.indexOf(dd)] as const).filter(
      ([s, dd]) => s >= 0 && dd >= 0,
    ),
    findingPairs,
    checked,
  };
}

/**
 * Every value index `applyRecordRules` may fill in an empty cell (computed items, 所見の有無): with the
 * cells the fields fill, the only cells of a record that can stop being empty (the final cell checks
 * change only cells that are not empty). The wide assembler clears just these to reuse a record — keep
 * this list in step with every write below.
 */
export function recordRuleTargets(plan: RecordRulePlan): number[] {
  const { idx } = plan;
  const targets = [idx.age, idx.bmi, idx.egfr, ...plan.checked.presence.map((p) => p.presenceIndex)];
  return targets.filter((i) => i >= 0);
}

/**
 * Applies the record rules in place. `findings` holds the finding state per item index (from the
 * thesaurus). Returns true when the record must be rejected.
 */
export function applyRecordRules(
  plan: RecordRulePlan,
  record: StandardRecord,
  findings: ReadonlyMap<number, FindingState>,
  row: number,
  encoding: OutputEncoding,
  issues: Issue[],
  /**
   * The only cells that can be non-empty, ascending (the wide assembler's fields and record-rule
   * targets): the final cell checks look at these alone. Default: every cell.
   */
  cells?: Int32Array,
): boolean {
  const { values } = record;
  const items = plan.dictionary.items;
  let rejected = false;
  const add = (severity: IssueSeverity, code: IssueCode, index: number, message: string): void => {
    if (severity === "error") rejected = true;
    const item = index >= 0 ? items[index] : undefined;
    issues.push({ severity, code, row, ...(item ? { item: item.key } : {}), message });
  };
  const get = (i: number): string => (i >= 0 ? (values[i] ?? "") : "");

  for (const i of plan.keyIndices) {
    if (get(i) === "")
      add("error", "RECORD_KEY_MISSING", i, `${items[i]?.name ?? ""}がないため記録を作れません`);
  }

  const { idx } = plan;
  const computed = plan.checked.computed;
  const compute = (
    target: number,
    inputs: readonly number[],
    run: () => TransformResult<string>,
  ): boolean => {
    if (target < 0 || get(target) !== "") return false;
    if (inputs.some((i) => get(i) === "")) return false;
    if (inputs.some((i) => /^[<>]/.test(get(i)))) {
      add(
        "warning",
        "COMPUTE_INPUT_INVALID",
        target,
        `${items[target]?.name ?? ""}: 不等号付きの値からは計算できません`,
      );
      return false;
    }
    const r = run();
    if (r.ok) values[target] = r.value;
    else add("warning", r.code, target, `${items[target]?.name ?? ""}: ${r.message}`);
    return r.ok;
  };
  if (computed.has("age")) {
    compute(idx.age, [idx.birthDate, idx.examDate], () => computeAge(get(idx.birthDate), get(idx.examDate)));
  }
  let bmiComputed = false;
  if (computed.has("bmi")) {
    bmiComputed = compute(idx.bmi, [idx.height, idx.weight], () =>
      computeBmi(get(idx.height), get(idx.weight)),
    );
  }
  if (computed.has("egfr")) {
    const sex = get(idx.sex);
    if (sex === "男性" || sex === "女性") {
      compute(idx.egfr, [idx.creatinine, idx.age], () => computeEgfr(get(idx.creatinine), get(idx.age), sex));
    }
  }

  // 相関チェック (a BMI just computed from this height and weight is within 0.05 of the exact value, so
  // it always passes the ±0.1 check: not computed a second time)
  if (
    !bmiComputed &&
    idx.bmi >= 0 &&
    get(idx.bmi) !== "" &&
    get(idx.height) !== "" &&
    get(idx.weight) !== ""
  ) {
    if (!bmiMatches(get(idx.height), get(idx.weight), get(idx.bmi))) {
      add("warning", "CHECK_BMI_MISMATCH", idx.bmi, "BMI が身長・体重から計算した値と一致しません");
    }
  }
  for (const [s, d] of plan.bp) {
    const sv = Number(get(s));
    const dv = Number(get(d));
    if (get(s) !== "" && get(d) !== "" && Number.isFinite(sv) && Number.isFinite(dv) && sv < dv) {
      add(
        "warning",
        "CHECK_BP_SYSTOLIC_BELOW_DIASTOLIC",
        s,
        `${items[s]?.name ?? ""}が${items[d]?.name ?? ""}より低い値です`,
      );
    }
  }

  for (const p of plan.checked.presence) {
    const state = findings.get(p.findingIndex);
    if (get(p.presenceIndex) === "" && state !== undefined) {
      values[p.presenceIndex] = state === "abnormal" ? PRESENCE_YES : PRESENCE_NO;
    }
  }
  for (const [f, p] of plan.findingPairs) {
    const state = findings.get(f) ?? (get(f) !== "" ? "abnormal" : undefined);
    const presence = get(p);
    if (
      (presence === PRESENCE_NO && state === "abnormal") ||
      (presence === PRESENCE_YES && state === "normal")
    ) {
      add(
        "warning",
        "CHECK_FINDING_PRESENCE_MISMATCH",
        p,
        `${items[p]?.name ?? ""}と所見の内容が一致しません`,
      );
    }
  }

  const kind = plan.checked.mapping.requiredFor ?? get(idx.checkupKind);
  if (kind !== "") {
    const missing: string[] = [];
    items.forEach((item, i) => {
      if (!item.requiredFor?.includes(kind) || get(i) !== "") return;
      const alternatives = REQUIRED_ALTERNATIVES.get(item.key) ?? [];
      if (alternatives.some((k) => get(plan.dictionary.indexOf(k)) !== "")) return;
      missing.push(item.name);
    });
    if (missing.length > 0) {
      add("warning", "RECORD_REQUIRED_MISSING", -1, `${kind}に必要な項目がありません: ${missing.join("、")}`);
    }
  }

  if (finaliseCells(plan, record, row, encoding, issues, cells)) rejected = true;
  return rejected;
}

/**
 * Makes every cell final for the output: neutralises formula-like text, writes CP932's own forms of
 * characters when the output is CP932, and checks each field's byte limit in the output encoding.
 * A value over its limit is an error (never silently cut). Returns true when a cell failed.
 */
function finaliseCells(
  plan: RecordRulePlan,
  record: StandardRecord,
  row: number,
  encoding: OutputEncoding,
  issues: Issue[],
  cells: Int32Array | undefined,
): boolean {
  let failed = false;
  const items = plan.dictionary.items;
  const finalise = (cells: string[], i: number, isOriginal: boolean): void => {
    const item = items[i];
    let text = cells[i];
    if (item === undefined || text === undefined || text === "") return;
    const label = isOriginal ? `${item.name}(原本値)` : item.name;
    const warn = (code: IssueCode, message: string): void => {
      issues.push({ severity: "warning", code, row, item: item.key, message: `${label}: ${message}` });
    };
    // 外字 (a CP932 user-defined character, decoded to the Private Use Area): receivers cannot show
    // it. The value gets 〓 (the customary mark for a missing glyph); the original keeps the
    // character where the output encoding can hold it (UTF-8).
    if (PRIVATE_USE.test(text) && (!isOriginal || encoding === "cp932")) {
      const count = countPrivateUse(text);
      text = text.replace(PRIVATE_USE_ALL, GETA);
      warn(
        "SOURCE_PRIVATE_USE_CHAR",
        `外字 (利用者定義文字) が ${count} 文字あります。「${GETA}」に置き換えました${
          isOriginal ? "" : " (原本値には元の文字を残します)"
        }`,
      );
    }
    if (isOriginal || item.type === "text" || item.type === "code") {
      const guarded = neutraliseFormula(text);
      if (isOriginal && guarded !== text) {
        warn("VALUE_FORMULA_NEUTRALISED", "表計算ソフトで数式として実行されないよう先頭に「'」を付けました");
      }
      text = guarded;
    }
    if (encoding === "cp932") text = toCp932Forms(text);
    if (!isOriginal && text !== cells[i] && record.originals[i] === "") record.originals[i] = cells[i] ?? "";
    cells[i] = text;
    const bytes = encodedByteLength(text, encoding);
    if (bytes < 0) {
      failed = true;
      issues.push({
        severity: "error",
        code: "VALUE_NOT_ENCODABLE",
        row,
        item: item.key,
        message: `${label}: ${encoding} で表せない文字があります`,
      });
    } else if (isOriginal && bytes > MAX_FIELD_BYTES) {
      // The source's wording is bounded by the standard's largest field; cutting it loses nothing
      // the standard value needs, so the record stays (a warning says so).
      cells[i] = truncateToBytes(text, MAX_FIELD_BYTES, encoding);
      warn(
        "VALUE_ORIGINAL_TRUNCATED",
        `${bytes} バイトで上限 ${MAX_FIELD_BYTES} バイトを超えたため、上限までで切りました`,
      );
    } else if (!isOriginal && bytes > item.maxBytes) {
      failed = true;
      issues.push({
        severity: "error",
        code: "VALUE_TOO_LONG",
        row,
        item: item.key,
        message: `${label}: ${bytes} バイトで上限 ${item.maxBytes} バイトを超えています`,
      });
    }
  };
  const { values, originals } = record;
  const n = cells === undefined ? items.length : cells.length;
  for (let k = 0; k < n; k++) {
    const i = cells === undefined ? k : (cells[k] ?? 0);
    // Most cells of a record are empty, and most others short ASCII that nothing changes: skip them
    // without a call.
    const v = values[i] ?? "";
    if (v !== "" && !(isPlainAscii(v) && v.length <= (items[i]?.maxBytes ?? 0))) finalise(values, i, false);
    const o = originals[i] ?? "";
    if (o !== "" && !(isPlainAscii(o) && o.length <= MAX_FIELD_BYTES)) finalise(originals, i, true);
  }
  return failed;
}

/**
 * True when `finalise` leaves the text as it is (but for its byte limit, which is then its length): ASCII
 * only (no 外字, no CP932 variant form, one byte per character in both encodings) and not starting like
 * a formula (= + - @ TAB CR).
 */
function isPlainAscii(text: string): boolean {
  const c0 = text.charCodeAt(0);
  if (c0 === 0x3d || c0 === 0x2b || c0 === 0x2d || c0 === 0x40 || c0 === 0x09 || c0 === 0x0d) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

const PRIVATE_USE = /[\ue000-\uf8ff]/;
const PRIVATE_USE_ALL = /[\ue000-\uf8ff]/g;
const GETA = "〓";

function countPrivateUse(text: string): number {
  let n = 0;
  for (const ch of text) if (PRIVATE_USE.test(ch)) n++;
  return n;
}

/** The longest prefix of `text` (whole characters) that fits in `limit` bytes in `encoding`. */
function truncateToBytes(text: string, limit: number, encoding: OutputEncoding): string {
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = encodedByteLength(ch, encoding);
    if (n < 0 || bytes + n > limit) break;
    out += ch;
    bytes += n;
  }
  return out;
}
