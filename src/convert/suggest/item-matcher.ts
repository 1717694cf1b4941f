/**
 * Column name (or a long export's test name) → dictionary item, for `map suggest`: by the item's key
 * and 標準名称, by the names checkup systems commonly print (ALIASES), and failing those by closeness.
 * Each match says how sure it is (0–1) and why.
 */
import type { Dictionary, DictionaryItem } from "../../format/dictionary.js";
import { editDistance } from "../did-you-mean.js";

/** Names seen in exports for dictionary items (beyond the 標準名称 and key). */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  "institution-number": ["健診機関コード", "医療機関番号", "医療機関コード", "機関番号"],
  "exam-date": ["受診日", "健診日", "検診日", "検査日", "受診年月日", "健診年月日", "実施年月日"],
  "examinee-id": ["受診者ID", "受診者コード", "患者ID", "患者番号", "個人ID", "個人番号", "カルテ番号", "ID"],
  name: ["受診者氏名", "患者氏名", "漢字氏名", "氏名漢字", "名前"],
  "name-kana": ["シメイ", "カナ", "フリガナ", "氏名カナ", "カナ氏名", "ふりがな", "氏名(カナ)"],
  sex: ["男女", "性別コード", "性"],
  "birth-date": ["生年月日", "誕生日"],
  age: ["年齢", "受診時年齢"],
  "insurer-number": ["保険者番号", "保険者No"],
  "insurance-symbol": ["記号", "保険証記号", "被保険者証記号"],
  "insurance-number": ["番号", "保険証番号", "被保険者証番号"],
  "insurance-branch": ["枝番", "被保険者証枝番"],
  "voucher-number": ["受診券番号", "受診券整理番号"],
  "checkup-kind": ["健診区分", "健診種類", "健診コース", "コース", "受診区分"],
  height: ["身長", "身長cm"],
  weight: ["体重", "体重kg"],
  bmi: ["BMI", "体格指数"],
  waist: ["腹囲", "ウエスト", "腹囲実測"],
  "sbp-1": ["血圧上1", "収縮期血圧1", "最高血圧1", "血圧上", "収縮期血圧", "最高血圧", "SBP"],
  "sbp-2": ["血圧上2", "収縮期血圧2", "最高血圧2"],
  "dbp-1": ["血圧下1", "拡張期血圧1", "最低血圧1", "血圧下", "拡張期血圧", "最低血圧", "DBP"],
  "dbp-2": ["血圧下2", "拡張期血圧2", "最低血圧2"],
  pulse: ["脈拍", "心拍数", "脈拍数"],
  "medical-history": ["既往歴"],
  "subjective-symptoms": ["自覚症状"],
  "objective-findings": ["他覚症状"],
  rbc: ["赤血球", "RBC"],
  hemoglobin: ["血色素", "ヘモグロビン", "Hb", "HGB"],
  hematocrit: ["Ht", "HCT"],
  wbc: ["白血球", "WBC"],
  platelets: ["血小板", "PLT"],
  "total-cholesterol": ["TC", "T-CHO", "総コレステロール"],
  triglycerides: ["TG", "中性脂肪"],
  "hdl-cholesterol": ["HDL", "HDL-C", "HDLコレステロール"],
  "ldl-cholesterol": ["LDL", "LDL-C", "LDLコレステロール"],
  "non-hdl-cholesterol": ["non-HDL", "non-HDL-C", "nonHDL"],
  ast: ["AST", "GOT"],
  alt: ["ALT", "GPT"],
  ggt: ["γ-GTP", "γ-GT", "γGT", "γGTP", "GGT", "GGTP"],
  alp: ["ALP"],
  "total-bilirubin": ["T-Bil", "総ビリルビン", "TB"],
  "total-protein": ["TP", "総蛋白", "総たんぱく"],
  albumin: ["ALB", "Alb"],
  creatinine: ["クレアチニン", "Cre", "Cr", "CRE", "血清クレアチニン"],
  egfr: ["eGFR", "推算GFR"],
  "uric-acid": ["UA", "尿酸"],
  bun: ["BUN", "UN", "尿素窒素"],
  "fasting-glucose": ["空腹時血糖", "血糖(空腹)", "FBS", "空腹時血糖値", "血糖空腹時", "FPG"],
  "random-glucose": ["随時血糖", "血糖(随時)"],
  hba1c: ["HbA1c", "ヘモグロビンA1c", "A1c"],
  "urine-glucose": ["尿糖"],
  "urine-protein": ["尿蛋白", "尿たんぱく", "尿タンパク"],
  "urine-occult-blood": ["尿潜血"],
  crp: ["CRP"],
  "ecg-finding": ["心電図所見", "心電図", "ECG", "心電図結果"],
  "chest-xray-finding": ["胸部X線所見", "胸部X線", "胸部レントゲン", "胸部XP", "胸部X-P"],
  "fundus-finding": ["眼底所見", "眼底"],
  "abdominal-us-finding": ["腹部エコー所見", "腹部エコー", "腹部超音波", "腹部超音波所見"],
  "upper-gi-xray-finding": ["胃部X線所見", "胃X線", "胃透視"],
  "upper-gi-endoscopy-finding": ["胃内視鏡所見", "胃カメラ", "上部内視鏡"],
  "medication-bp": ["服薬血圧", "服薬1", "血圧の薬", "血圧服薬"],
  "medication-glucose": ["服薬血糖", "服薬2", "血糖の薬", "血糖服薬"],
  "medication-lipid": ["服薬脂質", "服薬3", "脂質の薬", "脂質服薬"],
  smoking: ["喫煙", "喫煙歴", "たばこ"],
  drinking: ["飲酒"],
  "judgement-overall": ["総合判定", "総合評価"],
  "doctor-name": ["医師名", "医師氏名", "判定医", "判定医師", "健診医"],
  "doctor-judgement": ["医師の判断", "医師判断", "医師所見"],
  "judgement-comment": ["所見コメント", "判定コメント", "コメント", "総合コメント"],
};

/** The key a name is compared by: NFKC, no spaces or joiners, ASCII lower case. */
export function nameKey(name: string): string {
  return name
    .normalize("NFKC")
    .replace(/[\s\-‐－ー・_]/g, "")
    .toLowerCase();
}

export interface ItemMatch {
  readonly item: DictionaryItem;
  readonly confidence: number;
  readonly reason: string;
}

export class ItemMatcher {
  private readonly exact = new Map<string, { item: DictionaryItem; reason: string; confidence: number }>();
  private readonly all: { key: string; item: DictionaryItem }[] = [];

  constructor(dictionary: Dictionary) {
    const add = (name: string, item: DictionaryItem, reason: string, confidence: number): void => {
      const k = nameKey(name);
      if (k === "") return;
      const earlier = this.exact.get(k);
      if (earlier === undefined || earlier.confidence < confidence)
        this.exact.set(k, { item, reason, confidence });
      this.all.push({ key: k, item });
    };
    // Aliases first at a lower confidence, so the dictionary's own names win a tie.
    for (const [key, names] of Object.entries(ALIASES)) {
      const item = dictionary.item(key);
      if (item) for (const n of names) add(n, item, "よく使われる列名", 0.9);
    }
    for (const item of dictionary.items) {
      add(item.name, item, "標準名称と一致", 0.95);
      add(item.key, item, "項目キーと一致", 0.95);
    }
  }

  /** The best item for a name, or undefined. Trailing digits (心電図所見1) are tried off too. */
  match(name: string): ItemMatch | undefined {
    const k = nameKey(name);
    if (k === "") return undefined;
    const hit = this.exact.get(k);
    if (hit) return { item: hit.item, confidence: hit.confidence, reason: hit.reason };
    const stem = k.replace(/[0-9]+$/, "");
    if (stem !== k && stem !== "") {
      const s = this.exact.get(stem);
      if (s)
        return { item: s.item, confidence: s.confidence - 0.05, reason: `${s.reason} (末尾の番号を除く)` };
    }
    // Closeness: the nearest known name within a third of its length.
    let best: { item: DictionaryItem; d: number; len: number } | undefined;
    for (const c of this.all) {
      const limit = Math.max(1, Math.floor(Math.max(c.key.length, k.length) / 3));
      const d = editDistance(k, c.key, limit);
      if (d <= limit && (best === undefined || d < best.d)) best = { item: c.item, d, len: c.key.length };
    }
    if (best) {
      const confidence = Math.max(0.3, 0.75 - best.d / Math.max(best.len, k.length));
      return { item: best.item, confidence, reason: "名前が近い" };
    }
    return undefined;
  }
}
