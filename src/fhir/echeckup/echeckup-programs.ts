/**
 * The record's 健診種別 → the Composition's 報告区分 (category), 健診プログラムサービスコード (event; the
 * IG makes event 1..1 for every report, not only 特定健診) and the codes of its two result sections,
 * from the IG's code systems (urn:oid:1.2.392.200119.6.1001, urn:oid:1.2.392.200119.6.1002 and
 * section-code, IG v1.3.1–1.5.0).
 *
 * - 特定健康診査 (or no kind): 10 特定健診情報, event 010, sections 01011 / 01012.
 * - 定期・雇入時・特殊健康診断 (労働安全衛生法): 41 事業者健診, event 030, sections 01031 / 01032.
 * - がん検診: 99 そのほか, event 060 がん検診, sections 01910 / 01920 (the IG's がん検診 section 01060
 *   is a single section; ours are split like the others, with the generic result codes).
 * - 人間ドック and その他: 99 そのほか, event 990 その他の健診(検診), sections 01910 / 01920.
 */
export interface CheckupProgram {
  readonly category: { readonly code: string; readonly display: string };
  readonly event: { readonly code: string; readonly display: string };
  readonly results: { readonly code: string; readonly display: string };
  readonly questionnaire: { readonly code: string; readonly display: string };
}

const GENERIC_SECTIONS = {
  results: { code: "01910", display: "検査結果セクション" },
  questionnaire: { code: "01920", display: "問診結果セクション" },
} as const;

export function checkupProgram(kind: string): CheckupProgram {
  if (kind === "" || kind === "特定健康診査") {
    return {
      category: { code: "10", display: "特定健診情報" },
      event: { code: "010", display: "特定健康診査" },
      results: { code: "01011", display: "特定健診検査結果セクション" },
      questionnaire: { code: "01012", display: "特定健診問診結果セクション" },
    };
  }
  if (kind === "定期健康診断" || kind === "雇入時健康診断" || kind === "特殊健康診断") {
    return {
      category: { code: "41", display: "事業者健診" },
      event: { code: "030", display: "事業者健診" },
      results: { code: "01031", display: "事業者健診検査結果セクション" },
      questionnaire: { code: "01032", display: "事業者健診問診結果セクション" },
    };
  }
  return {
    category: { code: "99", display: "そのほか" },
    event:
      kind === "がん検診"
        ? { code: "060", display: "がん検診" }
        : { code: "990", display: "その他の健診(検診)" },
    ...GENERIC_SECTIONS,
  };
}
