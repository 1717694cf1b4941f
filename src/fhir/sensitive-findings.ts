/**
 * Which checkup findings are restricted (v3-Confidentiality R) and which sensitivity codes they carry
 * (B1, Z4; security-requirements.md §4: "N for results; R for psychiatric or infectious findings").
 *
 * The rule, decided from the standard item list (standard-format-facts.md §5, our dictionary
 * data/dictionary/kenshin-items.json) and applied to every item, ours or a licensee's dictionary:
 * - Infectious findings are R: items whose JLAC10 code is in 大分類 6 (微生物学的検査: cultures, PCR,
 *   smears) or in the infection serology classes 5E (bacteria, syphilis) and 5F (viruses: HBs抗原
 *   5F016…, HCV抗体 5F360…, HIV, HTLV-1) [the class reading of 5E is an inference from the JLAC10
 *   layout]; and, for items without a code, those whose name or key names an infection test (HBs, HBV,
 *   HCV, HIV, HTLV, 梅毒/TPHA/RPR, 肝炎, 結核, ピロリ). No v3-ActCode names infection in general, so
 *   these carry R alone — except HIV (ActCode HIV) and syphilis (ActCode STD).
 * - Psychiatric findings are R with ActCode PSY: items whose name names mental health (精神, うつ,
 *   メンタル, ストレスチェック). The standard checkup list has none today; the rule is there for a
 *   licensee's dictionary and for spare items an institution names so.
 * - Everything else is N. Free-text items (具体的な既往歴, 医師の判断 …) may mention anything; their
 *   text is not classified — the receiver's own policy must treat free text as possibly sensitive.
 * Tumour markers (CEA, PSA …) stay N: not named by the reference, and part of the commissioned checkup.
 */
import type { ActCodeLabel, Confidentiality } from "./security-labels.js";

export interface FindingSensitivity {
  readonly confidentiality: Extract<Confidentiality, "N" | "R">;
  readonly acts: readonly ActCodeLabel[];
}

const NORMAL: FindingSensitivity = { confidentiality: "N", acts: [] };

const HIV = /HIV|エイズ|AIDS/i;
const SYPHILIS = /梅毒|TPHA|RPR|TPLA|syphilis/i;
const PSYCHIATRIC = /精神|うつ|鬱|メンタル|ストレスチェック|psych|mental/i;
const INFECTION = /HBs|HBe|HBc|HBV|HCV|HTLV|肝炎|結核|ピロリ|pylori|hepatitis|tubercul/i;
/** JLAC10 大分類 6 (microbiology) and the infection serology classes 5E, 5F. */
const INFECTION_CODE = /^(6|5E|5F)/;

/** The sensitivity of one dictionary item's findings. */
export function findingSensitivity(item: {
  readonly key: string;
  readonly name: string;
  readonly jlac10?: string | undefined;
}): FindingSensitivity {
  const text = `${item.key} ${item.name}`;
  if (HIV.test(text)) return { confidentiality: "R", acts: ["HIV"] };
  if (SYPHILIS.test(text)) return { confidentiality: "R", acts: ["STD"] };
  if (PSYCHIATRIC.test(text)) return { confidentiality: "R", acts: ["PSY"] };
  if ((item.jlac10 !== undefined && INFECTION_CODE.test(item.jlac10)) || INFECTION.test(text)) {
    return { confidentiality: "R", acts: [] };
  }
  return NORMAL;
}
