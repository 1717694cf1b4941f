/**
 * Observation.method for the item codes whose method a public source pairs with the code, in the IG's
 * 特定健診検査方法コード (urn:oid:1.2.392.200119.6.1007). In 特定健診 the method is part of the JLAC10 code
 * (digits 11–15), so the method is derived from the code, never guessed from a value:
 *
 * - the JP eCheckup IG's example Bundle pairs these codes with these method codes (腹囲 実測, 中性脂肪,
 *   HDL, LDL, AST, ALT, γ-GT, HbA1c);
 * - the urine dipstick codes ending …191111 are 試験紙法(機械読み取り) (standard-format-facts.md §5, the
 *   ORCA method table), which is method 1 of 尿蛋白・尿糖・尿潜血 in that code system.
 *
 * Every other code gets no method (a test checks each code and display against the IG's code system).
 */
export interface ObservationMethod {
  readonly code: string;
  readonly display: string;
}

export const METHOD_BY_ITEM_CODE: Readonly<Record<string, ObservationMethod>> = {
  "9N016160100000001": { code: "9N01610000", display: "実測" },
  "3F015000002327101": { code: "3F01510000", display: "可視吸光光度法(酵素比色法・グリセロール消去)" },
  "3F070000002327101": { code: "3F07010000", display: "可視吸光光度法(直接法(非沈殿法))" },
  "3F077000002327101": { code: "3F07710000", display: "可視吸光光度法(直接法(非沈殿法))" },
  "3B035000002327201": { code: "3B03510000", display: "紫外吸光光度法(JSCC標準化対応法)" },
  "3B045000002327201": { code: "3B04510000", display: "紫外吸光光度法(JSCC標準化対応法)" },
  "3B090000002327101": { code: "3B09010000", display: "可視吸光光度法(JSCC標準化対応法)" },
  "3D046000001906202": { code: "3D04610000", display: "免疫学的方法(ラテックス凝集比濁法等)" },
  "1A010000000191111": { code: "1A01010000", display: "試験紙法(機械読み取り)" },
  "1A020000000191111": { code: "1A02010000", display: "試験紙法(機械読み取り)" },
  "1A100000000191111": { code: "1A10010000", display: "試験紙法(機械読み取り)" },
};
