/**
 * A synthetic wide CP932 export like a checkup system writes (no real people): per examinee one row
 * of ~300 columns: header items with 和暦 dates and half-width kana, ~130 mapped results (numbers,
 * some with full-width digits, codes, free-text findings with synonyms) and ~160 vendor columns the
 * mapping ignores. Deterministic (seeded), so runs are comparable.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import iconv from "iconv-lite";

export interface ExportShape {
  readonly header: readonly string[];
  /** Mapping YAML for this export. */
  readonly mapping: string;
  /** Miller arguments doing the equivalent selection, renaming and value mapping. */
  readonly millerVerbs: readonly string[];
  /** Names of the columns the mapping reads (what the pandas peer selects). */
  readonly mappedColumns: readonly string[];
}

/** Numeric result items of our dictionary used as columns (key, decimals, typical value, spread). */
const NUMBER_ITEMS: readonly (readonly [string, number, number, number])[] = [
  ["height", 1, 165, 10],
  ["weight", 1, 62, 12],
  ["waist", 1, 82, 9],
  ["sbp-1", 0, 125, 15],
  ["dbp-1", 0, 78, 10],
  ["sbp-2", 0, 122, 15],
  ["dbp-2", 0, 76, 10],
  ["pulse", 0, 70, 10],
  ["rbc", 0, 460, 40],
  ["hemoglobin", 1, 14, 1.5],
  ["hematocrit", 1, 42, 4],
  ["wbc", 0, 6000, 1500],
  ["platelets", 1, 25, 5],
  ["mcv", 1, 90, 5],
  ["mch", 1, 30, 2],
  ["mchc", 1, 33, 1],
  ["total-cholesterol", 0, 200, 30],
  ["triglycerides", 0, 120, 60],
  ["hdl-cholesterol", 0, 60, 15],
  ["ldl-cholesterol", 0, 120, 30],
  ["ast", 0, 22, 8],
  ["alt", 0, 20, 10],
  ["ggt", 0, 30, 20],
  ["alp", 0, 70, 20],
  ["ld", 0, 180, 30],
  ["total-bilirubin", 1, 0.8, 0.3],
  ["total-protein", 1, 7.2, 0.4],
  ["albumin", 1, 4.3, 0.3],
  ["creatinine", 2, 0.8, 0.2],
  ["uric-acid", 1, 5.5, 1.2],
  ["bun", 1, 14, 3],
  ["fasting-glucose", 0, 95, 12],
  ["hba1c", 1, 5.6, 0.4],
  ["ck", 0, 120, 40],
  ["amylase", 0, 80, 20],
  ["sodium", 0, 140, 2],
  ["potassium", 1, 4.2, 0.3],
  ["chloride", 0, 103, 2],
  ["crp", 2, 0.1, 0.1],
  ["urine-specific-gravity", 3, 1.015, 0.005],
  ["urine-ph", 1, 6.0, 0.5],
  ["vision-right", 1, 1.0, 0.3],
  ["vision-left", 1, 1.0, 0.3],
  ["iop-right", 0, 14, 2],
  ["iop-left", 0, 14, 2],
  ["vital-capacity", 2, 3.5, 0.6],
  ["fev1", 2, 2.9, 0.5],
  ["fev1-ratio", 1, 80, 5],
  ["cea", 1, 2, 1],
  ["psa", 2, 1, 0.5],
];
const CODE_ITEMS: readonly (readonly [string, string, Readonly<Record<string, string>>])[] = [
  ["sex", "sex", { "1": "男性", "2": "女性" }],
  ["urine-glucose", "dip", { "-": "－", "+-": "±", "1+": "＋", "2+": "２＋" }],
  ["urine-protein", "dip", { "-": "－", "+-": "±", "1+": "＋", "2+": "２＋" }],
  ["urine-occult-blood", "dip", { "-": "－", "+-": "±", "1+": "＋", "2+": "２＋" }],
  ["medication-bp", "yn", { "1": "はい", "2": "いいえ" }],
  ["medication-glucose", "yn", { "1": "はい", "2": "いいえ" }],
  ["medication-lipid", "yn", { "1": "はい", "2": "いいえ" }],
  ["smoking", "yn", { "1": "はい", "2": "いいえ" }],
  ["exercise-habit", "yn", { "1": "はい", "2": "いいえ" }],
  ["sleep", "yn", { "1": "はい", "2": "いいえ" }],
  ["judgement-overall", "jd", { A: "異常なし", B: "軽度異常", C: "要再検査・生活改善", D1: "要治療" }],
  ["judgement-liver", "jd", { A: "異常なし", B: "軽度異常", C: "要再検査・生活改善", D1: "要治療" }],
  ["judgement-lipid", "jd", { A: "異常なし", B: "軽度異常", C: "要再検査・生活改善", D1: "要治療" }],
];
const FINDINGS: readonly (readonly [string, string, readonly string[]])[] = [
  ["ecg-finding", "ecg", ["異常なし", "洞性頻脈", "ＰＶＣ", "完全右脚ブロック", "左室高電位", "異常なし"]],
  ["chest-xray-finding", "chest-xray", ["異常なし", "陳旧性胸膜炎", "異常なし", "肺野に結節影"]],
  ["abdominal-us-finding", "abdominal-us", ["異常なし", "脂肪肝", "胆のうポリープ", "異常なし"]],
];
const VENDOR_COLUMNS = 160;
/**
 * The mapping reads ~30 of the 300 columns (the job the issue measures against pandas): the header
 * items, the first MAPPED_NUMBERS results and these code and finding columns.
 */
const MAPPED_NUMBERS = 20;
const MAPPED_CODES: ReadonlySet<string> = new Set([
  "sex",
  "urine-glucose",
  "urine-protein",
  "medication-bp",
  "smoking",
]);
const MAPPED_FINDINGS: ReadonlySet<string> = new Set(["ecg-finding"]);
const ERAS = ["S", "H"] as const;

/** Builds the column layout, the mapping and the Miller equivalent. */
export function exportShape(): ExportShape {
  const header: string[] = ["受診日", "受診者ID", "氏名", "ｼﾒｲ", "生年月日", "保険者番号"];
  const fields: string[] = [
    "  - { item: exam-date, column: 受診日 }",
    "  - { item: examinee-id, column: 受診者ID }",
    "  - { item: name, column: 氏名 }",
    "  - { item: name-kana, column: ｼﾒｲ }",
    "  - { item: birth-date, column: 生年月日 }",
    "  - { item: insurer-number, column: 保険者番号 }",
  ];
  const keep: number[] = [1, 2, 3, 4, 5, 6];
  const rename: string[] = ["exam_date", "examinee_id", "name", "name_kana", "birth_date", "insurer"];
  const puts: string[] = [];
  NUMBER_ITEMS.forEach(([key], n) => {
    header.push(`検査_${key}`);
    if (n >= MAPPED_NUMBERS) return;
    fields.push(`  - { item: ${key}, column: 検査_${key} }`);
    keep.push(header.length);
    rename.push(key.replaceAll("-", "_"));
  });
  for (let copy = 0; copy < 2; copy++) {
    // The same results again under other column names (e.g. previous-method columns), ignored by
    // the mapping: real exports are this wide.
    for (const [key] of NUMBER_ITEMS) header.push(`旧_${copy}_${key}`);
  }
  const tables = new Map<string, Readonly<Record<string, string>>>();
  for (const [key, table, codes] of CODE_ITEMS) {
    header.push(`コード_${key}`);
    if (!MAPPED_CODES.has(key)) continue;
    fields.push(`  - { item: ${key}, column: コード_${key}, codes: ${table} }`);
    tables.set(table, codes);
    keep.push(header.length);
    const field = key.replaceAll("-", "_");
    rename.push(field);
    const literal = Object.entries(codes)
      .map(([c, t]) => `"${c}": "${t}"`)
      .join(", ");
    puts.push(`$${field} = {${literal}}[$${field}]`);
  }
  for (const [key, domain] of FINDINGS) {
    header.push(`所見_${key}`);
    if (!MAPPED_FINDINGS.has(key)) continue;
    fields.push(`  - { item: ${key}, column: 所見_${key}, thesaurus: ${domain} }`);
    keep.push(header.length);
    rename.push(key.replaceAll("-", "_"));
  }
  for (let i = 0; header.length < 300 && i < VENDOR_COLUMNS; i++) header.push(`内部${i}`);
  const codeTables = [...tables].map(
    ([name, codes]) =>
      `  ${name}: { ${Object.entries(codes)
        .map(([c, t]) => `"${c}": ${t}`)
        .join(", ")} }`,
  );
  const mapping = [
    "format: kenshin-mapping",
    "version: 1",
    "name: bench synthetic wide export",
    "layout: wide",
    "source: { encoding: cp932 }",
    "codeTables:",
    ...codeTables,
    "fields:",
    ...fields,
    "computed: [age, bmi, egfr]",
    "",
  ].join("\n");
  const millerVerbs = [
    "cut",
    "-o",
    "-f",
    keep.join(","),
    "then",
    "rename",
    keep.map((k, i) => `${k},${rename[i] ?? ""}`).join(","),
    "then",
    "put",
    puts.join(";\n"),
  ];
  const mappedColumns = keep.map((k) => header[k - 1] ?? "");
  return { header, mapping, millerVerbs, mappedColumns };
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FULL_WIDTH_DIGITS = "０１２３４５６７８９";

/** Writes `examinees` rows to `path` in CP932 and returns the byte count. */
export async function writeSyntheticExport(
  path: string,
  examinees: number,
  shape: ExportShape,
): Promise<number> {
  const random = prng(20251121);
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    const b = iconv.encode(text, "cp932");
    bytes += b.length;
    if (!out.write(b)) await once(out, "drain");
  };
  await write(`${shape.header.join(",")}\r\n`);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  let batch: string[] = [];
  for (let n = 0; n < examinees; n++) {
    const row: string[] = [];
    const era = pick(ERAS);
    row.push(
      `R7.${1 + (n % 12)}.${1 + (n % 28)}`,
      `K${String(n).padStart(8, "0")}`,
      `健診 太郎${n % 1000}`,
      "ｹﾝｼﾝ ﾀﾛｳ",
    );
    row.push(
      `${era}${era === "S" ? 30 + (n % 33) : 1 + (n % 20)}.${1 + (n % 12)}.${1 + (n % 27)}`,
      "06131111",
    );
    const numbers = NUMBER_ITEMS.map(([, decimals, mid, spread]) => {
      const v = Math.max(0, mid + (random() - 0.5) * 2 * spread).toFixed(decimals);
      // One value in ten written with full-width digits, as some systems do.
      return random() < 0.1
        ? v.replace(/\d/g, (d) => FULL_WIDTH_DIGITS[Number(d)] ?? d).replace(".", "．")
        : v;
    });
    row.push(...numbers, ...numbers, ...numbers);
    for (const [, , codes] of CODE_ITEMS) row.push(pick(Object.keys(codes)));
    for (const [, , texts] of FINDINGS) row.push(pick(texts));
    while (row.length < shape.header.length) row.push(String(Math.floor(random() * 10)));
    batch.push(row.join(","));
    if (batch.length === 2000) {
      await write(`${batch.join("\r\n")}\r\n`);
      batch = [];
    }
  }
  if (batch.length > 0) await write(`${batch.join("\r\n")}\r\n`);
  out.end();
  await once(out, "finish");
  return bytes;
}
