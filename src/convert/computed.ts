/**
 * Computed items of the standard record (BMI, 年齢, eGFR) and the BMI correlation check (相関チェック).
 *
 * Inputs are the already-normalised values of other items (numbers as {@link parseClinicalNumber}
 * accepts them, dates as YYYYMMDD). A blank input is COMPUTE_INPUT_MISSING; an input that is present but
 * unusable (qualified like "<0.3", zero, negative, not a number, not a date) is COMPUTE_INPUT_INVALID.
 * Messages name the input, never its value.
 */

import type { IssueCode, TransformResult } from "./issues.js";
import { parseClinicalNumber } from "./number.js";
import { isValidYmd } from "./wareki.js";
import { toHalfWidth } from "./width.js";

/** A positive decimal as an exact fraction mantissa / 10^scale. */
interface Operand {
  readonly mantissa: bigint;
  readonly scale: number;
  /** The canonical decimal the operand was read from. */
  readonly digits: string;
}

function failure(code: IssueCode, message: string): TransformResult<string> {
  return { ok: false, code, message };
}

function isBlank(text: string): boolean {
  return toHalfWidth(text).trim().length === 0;
}

/** Reads a plain (unqualified) number; the code is returned on failure instead of an operand. */
function readNumber(text: string): Operand | "COMPUTE_INPUT_MISSING" | "COMPUTE_INPUT_INVALID" {
  if (isBlank(text)) return "COMPUTE_INPUT_MISSING";
  const r = parseClinicalNumber(text);
  if (!r.ok || r.value.qualifier !== "") return "COMPUTE_INPUT_INVALID";
  const digits = r.value.digits;
  const dot = digits.indexOf(".");
  return dot < 0
    ? { mantissa: BigInt(digits), scale: 0, digits }
    : {
        mantissa: BigInt(digits.slice(0, dot) + digits.slice(dot + 1)),
        scale: digits.length - dot - 1,
        digits,
      };
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/**
 * BMI = weight / (height / 100)² as the exact fraction `num / den`:
 * W/10^sw ÷ (H/10^sh / 100)² = W · 10^(2·sh + 4) / (10^sw · H²).
 */
function bmiFraction(height: Operand, weight: Operand): { num: bigint; den: bigint } {
  return {
    num: weight.mantissa * pow10(2 * height.scale + 4),
    den: pow10(weight.scale) * height.mantissa * height.mantissa,
  };
}

function readBmiInputs(
  heightCm: string,
  weightKg: string,
): { height: Operand; weight: Operand } | TransformResult<string> {
  const height = readNumber(heightCm);
  if (typeof height === "string") return failure(height, "BMIの計算に使う身長が未入力か数値ではありません");
  if (height.mantissa <= 0n) return failure("COMPUTE_INPUT_INVALID", "BMIの計算に使う身長が0以下です");
  const weight = readNumber(weightKg);
  if (typeof weight === "string") return failure(weight, "BMIの計算に使う体重が未入力か数値ではありません");
  if (weight.mantissa <= 0n) return failure("COMPUTE_INPUT_INVALID", "BMIの計算に使う体重が0以下です");
  return { height, weight };
}

/**
 * BMI (kg/m², JLAC10 9N011000000000001) from 身長 (cm) and 体重 (kg), one decimal, 四捨五入.
 *
 * Computed exactly with BigInt fractions, so a BMI that is exactly on a half (200 cm, 89.8 kg → 22.45)
 * rounds up as the rule says; float division would give 22.449999… and round down.
 */
export function computeBmi(heightCm: string, weightKg: string): TransformResult<string> {
  const inputs = readBmiInputs(heightCm, weightKg);
  if ("ok" in inputs) return inputs;
  const { num, den } = bmiFraction(inputs.height, inputs.weight);
  // tenths = floor((20·num + den) / (2·den)) = round half up of 10·num/den (all terms positive)
  const tenths = (20n * num + den) / (2n * den);
  return { ok: true, value: `${tenths / 10n}.${tenths % 10n}` };
}

/**
 * 相関チェック BMI vs 身長・体重: true when the recorded `bmi` is within ±0.1 of the exact BMI from height
 * and weight. The exact (unrounded) value is used so that a source that truncates instead of rounding
 * still passes. False when any of the three values is missing or unusable: callers run the check only
 * when all three items are present, and an unusable value has already been reported on its own item.
 */
export function bmiMatches(heightCm: string, weightKg: string, bmi: string): boolean {
  const inputs = readBmiInputs(heightCm, weightKg);
  if ("ok" in inputs) return false;
  const given = readNumber(bmi);
  if (typeof given === "string") return false;
  const { num, den } = bmiFraction(inputs.height, inputs.weight);
  // |num/den − G/10^sg| ≤ 1/10  ⇔  10·|num·10^sg − G·den| ≤ den·10^sg
  const scale = pow10(given.scale);
  const diff = num * scale - given.mantissa * den;
  return 10n * (diff < 0n ? -diff : diff) <= den * scale;
}

/**
 * 年齢 in completed years on `onYmd` (the checkup date) for someone born on `birthYmd`, both YYYYMMDD.
 *
 * Rule: the age goes up on the birthday itself ("birthday reached"). 年齢計算ニ関スル法律 with 民法143条
 * makes the age go up at the end of the day before the birthday; for "age on the day of the checkup"
 * both give the same number during the checkup day, and the legal rule only matters for deadlines such
 * as 特定健診's "age at 年度末", which callers compute by passing the day after (4月1日).
 *
 * 2月29日 birthdays: in a non-leap year the age goes up on 3月1日 (2月28日 is still before the birthday).
 * This is also what the legal rule gives: the period ends at the end of 2月28日, so the new age holds
 * from 3月1日.
 *
 * Implementation: with dates as integers YYYYMMDD, floor((on − birth) / 10000) is exactly the number of
 * completed years, because the MMDD part of the difference is negative iff the birthday is not reached.
 */
export function computeAge(birthYmd: string, onYmd: string): TransformResult<string> {
  if (isBlank(birthYmd)) return failure("COMPUTE_INPUT_MISSING", "年齢の計算に使う生年月日が未入力です");
  if (isBlank(onYmd)) return failure("COMPUTE_INPUT_MISSING", "年齢の計算に使う実施日が未入力です");
  if (!isValidYmd(birthYmd)) return failure("COMPUTE_INPUT_INVALID", "生年月日が有効な日付ではありません");
  if (!isValidYmd(onYmd)) return failure("COMPUTE_INPUT_INVALID", "実施日が有効な日付ではありません");
  const diff = Number(onYmd) - Number(birthYmd);
  if (diff < 0) return failure("COMPUTE_INPUT_INVALID", "実施日が生年月日より前です");
  return { ok: true, value: String(Math.floor(diff / 10000)) };
}

/** The equation is validated for adults only (Matsuo et al. 2009 studied ages 18 and over). */
const EGFR_MIN_AGE = 18;
/** Results at or above this are not physiological and would not print as plain decimals. */
const EGFR_MAX_RESULT = 1e9;

/**
 * eGFRcreat (mL/min/1.73m², JLAC10 8A065000002391901) by the 日本腎臓学会 Japanese equation
 * (Matsuo S, et al. Revised equations for estimated GFR from serum creatinine in Japan.
 * Am J Kidney Dis 2009;53:982–992; CKD診療ガイド 2012):
 *
 *   eGFR = 194 × Cr^−1.094 × Age^−0.287   (× 0.739 for women)
 *
 * with Cr in mg/dL (enzymatic method) and Age in whole years ≥ 18. One decimal, 四捨五入.
 *
 * Float is justified here, unlike for value formatting: the non-integer powers make the true value
 * irrational, so it is never exactly on a half; double precision (≈1e-15 relative) can only change the
 * printed tenth when the true value lies within ~1e-13 of a half, far below the equation's accuracy.
 */
export function computeEgfr(
  creatinineMgDl: string,
  age: string,
  sex: "男性" | "女性",
): TransformResult<string> {
  const cr = readNumber(creatinineMgDl);
  if (typeof cr === "string") return failure(cr, "eGFRの計算に使うクレアチニンが未入力か数値ではありません");
  if (cr.mantissa <= 0n) return failure("COMPUTE_INPUT_INVALID", "eGFRの計算に使うクレアチニンが0以下です");
  const years = readNumber(age);
  if (typeof years === "string") return failure(years, "eGFRの計算に使う年齢が未入力か数値ではありません");
  if (years.scale !== 0) return failure("COMPUTE_INPUT_INVALID", "eGFRの計算に使う年齢が整数ではありません");
  if (years.mantissa < BigInt(EGFR_MIN_AGE)) {
    return failure("COMPUTE_INPUT_INVALID", "eGFRの日本人向け推算式は18歳以上にのみ適用できます");
  }
  let egfr = 194 * Math.pow(Number(cr.digits), -1.094) * Math.pow(Number(years.digits), -0.287);
  if (sex === "女性") egfr *= 0.739;
  if (!(egfr < EGFR_MAX_RESULT)) {
    return failure("COMPUTE_INPUT_INVALID", "eGFRの計算結果が有効な範囲を超えています");
  }
  const tenths = Math.floor(egfr * 10 + 0.5);
  return { ok: true, value: `${Math.floor(tenths / 10)}.${tenths % 10}` };
}
