/**
 * Item keys the engine itself refers to (record keys, computed items, correlation checks). A
 * dictionary that lacks one of them still works: the rules needing it are skipped.
 */
export const KEY = {
  institutionNumber: "institution-number",
  examDate: "exam-date",
  examineeId: "examinee-id",
  sex: "sex",
  birthDate: "birth-date",
  age: "age",
  checkupKind: "checkup-kind",
  height: "height",
  weight: "weight",
  bmi: "bmi",
  creatinine: "creatinine",
  egfr: "egfr",
} as const;

/** Items that identify a record: without them a record cannot be delivered. */
export const RECORD_KEY_ITEMS: readonly string[] = [KEY.examineeId, KEY.examDate];

/** Systolic / diastolic pairs checked for systolic ≥ diastolic. */
export const BLOOD_PRESSURE_PAIRS: readonly (readonly [string, string])[] = [
  ["sbp-1", "dbp-1"],
  ["sbp-2", "dbp-2"],
  ["sbp-other", "dbp-other"],
];

/** Terms of 所見の有無 items. */
export const PRESENCE_YES = "所見あり";
export const PRESENCE_NO = "所見なし";

/**
 * Finding-text item → its 所見の有無 item, by the dictionary's naming convention
 * (`<area>-finding` / `<area>-presence`).
 */
export function presenceKeyFor(findingKey: string): string | undefined {
  return findingKey.endsWith("-finding") ? `${findingKey.slice(0, -"-finding".length)}-presence` : undefined;
}

/**
 * Where the MHLW rule for 特定健診 accepts either of several items, a required item counts as
 * present when one of its alternatives is (e.g. HbA1c or fasting or random glucose).
 */
export const REQUIRED_ALTERNATIVES: ReadonlyMap<string, readonly string[]> = new Map([
  ["hba1c", ["fasting-glucose", "random-glucose"]],
  ["ldl-cholesterol", ["non-hdl-cholesterol"]],
  ["triglycerides", ["triglycerides-random"]],
  ["sbp-1", ["sbp-2", "sbp-other"]],
  ["dbp-1", ["dbp-2", "dbp-other"]],
  ["waist", ["visceral-fat-area"]],
]);
