import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import type { DictionaryFile, DictionaryItem, ItemType } from "./dictionary.js";
import {
  buildDictionary,
  DEFAULT_DICTIONARY_PATH,
  loadDictionary,
  MHLW_ITEM_CODE_SYSTEM,
  termCode,
} from "./dictionary.js";
import { FormatError } from "./errors.js";
import type { FormatErrorCode } from "./errors.js";

const shippedPath = fileURLToPath(DEFAULT_DICTIONARY_PATH);

async function readShipped(): Promise<DictionaryFile> {
  return JSON.parse(await readFile(shippedPath, "utf8")) as DictionaryFile;
}

function codeOf(fn: () => unknown): FormatErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof FormatError) return error.code;
    throw error;
  }
  return undefined;
}

/** A minimal valid dictionary to break in one place per test. */
function tiny(items: Partial<DictionaryItem>[]): unknown {
  return {
    format: "kenshin-dictionary",
    version: "1.0.0",
    name: "test",
    items: items.map((o, i) => ({
      no: i + 1,
      key: `item-${i + 1}`,
      name: `項目${i + 1}`,
      category: "テスト",
      type: "text",
      maxBytes: 512,
      multiple: false,
      ...o,
    })),
  };
}

// Keys the conversion engine refers to by name, with the type each must have.
const REQUIRED_KEYS: Record<string, ItemType> = {
  "institution-number": "text",
  "exam-date": "date",
  "examinee-id": "text",
  name: "text",
  "name-kana": "text",
  sex: "code",
  "birth-date": "date",
  age: "number",
  "insurer-number": "text",
  "insurance-symbol": "text",
  "insurance-number": "text",
  "insurance-branch": "text",
  "voucher-number": "text",
  "checkup-kind": "code",
  height: "number",
  weight: "number",
  bmi: "number",
  waist: "number",
  "sbp-1": "number",
  "sbp-2": "number",
  "dbp-1": "number",
  "dbp-2": "number",
  creatinine: "number",
  egfr: "number",
  "judgement-overall": "code",
  "metabolic-syndrome": "code",
  "guidance-level": "code",
  "doctor-judgement": "text",
  "judgement-comment": "text",
};

const IMAGING = ["ecg", "chest-xray", "fundus", "abdominal-us", "upper-gi-xray", "upper-gi-endoscopy"];
const JUDGEMENT_AREAS = [
  "overall",
  "body",
  "bp",
  "lipid",
  "liver",
  "kidney",
  "glucose",
  "urine",
  "blood",
  "ecg",
  "chest-xray",
  "fundus",
  "abdominal-us",
  "upper-gi",
];
const JUDGEMENT_TERMS = ["異常なし", "軽度異常", "要再検査・生活改善", "要治療", "要精密検査", "治療中"];
const DIPSTICK = ["－", "±", "＋", "２＋", "３＋"];

describe("the shipped dictionary", async () => {
  const dictionary = await loadDictionary(shippedPath);
  const item = (key: string): DictionaryItem => {
    const found = dictionary.item(key);
    if (found === undefined) throw new Error(`missing item ${key}`);
    return found;
  };

  it("loads with at least 150 items, version 1.2.0, 項番 ascending", () => {
    expect(dictionary.version).toBe("1.2.0");
    expect(dictionary.items.length).toBeGreaterThanOrEqual(150);
    const numbers = dictionary.items.map((i) => i.no);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });

  it.each(Object.entries(REQUIRED_KEYS))("has %s as a %s item", (key, type) => {
    expect(item(key).type).toBe(type);
  });

  it("has the header items in category 受診者情報 with the agreed terms and limits", () => {
    for (const key of Object.keys(REQUIRED_KEYS).slice(0, 14)) expect(item(key).category).toBe("受診者情報");
    expect(item("institution-number").maxBytes).toBe(10);
    expect(item("sex").terms).toEqual(["男性", "女性"]);
    expect(item("age")).toMatchObject({ decimals: 0, unit: "歳" });
    expect(item("checkup-kind").terms).toEqual([
      "特定健康診査",
      "人間ドック",
      "定期健康診断",
      "雇入時健康診断",
      "特殊健康診断",
      "がん検診",
      "その他",
    ]);
  });

  it("gives BMI, creatinine and eGFR the units and decimals the computations write", () => {
    expect(item("bmi")).toMatchObject({ decimals: 1, unit: "kg/m2" });
    expect(item("creatinine")).toMatchObject({ decimals: 2, unit: "mg/dL" });
    expect(item("egfr")).toMatchObject({ decimals: 1, unit: "mL/min/1.73m2" });
  });

  it.each(IMAGING)("pairs %s findings (multi-valued text) with a 所見あり/所見なし presence item", (area) => {
    const finding = item(`${area}-finding`);
    expect(finding).toMatchObject({ type: "text", multiple: true });
    expect(finding.maxBytes).toBe(area === "fundus" ? 256 : 512);
    expect(item(`${area}-presence`)).toMatchObject({ type: "code", terms: ["所見あり", "所見なし"] });
  });

  it.each(JUDGEMENT_AREAS)("has judgement-%s with the 人間ドック学会 judgement names", (area) => {
    expect(item(`judgement-${area}`)).toMatchObject({
      type: "code",
      category: "判定",
      terms: JUDGEMENT_TERMS,
    });
  });

  it("writes urine dipstick answers as full-width standard terms", () => {
    for (const key of ["urine-glucose", "urine-protein", "urine-occult-blood"]) {
      expect(item(key).terms).toEqual(DIPSTICK);
    }
  });

  it("has spare-01 … spare-20 as multi-valued 512-byte text in category 予備", () => {
    for (let i = 1; i <= 20; i++) {
      const spare = item(`spare-${String(i).padStart(2, "0")}`);
      expect(spare).toMatchObject({ type: "text", maxBytes: 512, multiple: true, category: "予備" });
    }
  });

  it("marks the items 特定健診 requires", () => {
    const required = dictionary.items
      .filter((i) => i.requiredFor?.includes("特定健康診査") === true)
      .map((i) => i.key);
    expect(required).toEqual(
      expect.arrayContaining([
        "height",
        "weight",
        "bmi",
        "waist",
        "medical-history",
        "subjective-symptoms",
        "objective-findings",
        "sbp-1",
        "dbp-1",
        "triglycerides",
        "hdl-cholesterol",
        "ldl-cholesterol",
        "ast",
        "alt",
        "ggt",
        "hba1c",
        "urine-glucose",
        "urine-protein",
        "medication-bp",
        "medication-glucose",
        "medication-lipid",
        "smoking",
        "doctor-judgement",
      ]),
    );
  });

  it("keeps every JLAC10 code 17 characters and every code item's terms within its byte limit", () => {
    for (const i of dictionary.items) {
      if (i.jlac10 !== undefined) expect(i.jlac10, i.key).toHaveLength(17);
      if (i.type === "code") {
        expect(i.terms?.length, i.key).toBeGreaterThan(0);
        for (const term of i.terms ?? []) {
          expect(Buffer.byteLength(term, "utf8"), `${i.key}: ${term}`).toBeLessThanOrEqual(i.maxBytes);
        }
      }
    }
  });

  it("holds only text that survives a CP932 round trip (the output may be written in CP932)", async () => {
    const text = await readFile(shippedPath, "utf8");
    expect(iconv.decode(iconv.encode(text, "cp932"), "cp932")).toBe(text);
  });

  it("never uses a JLAC10 code twice", () => {
    const codes = dictionary.items.flatMap((i) => (i.jlac10 === undefined ? [] : [i.jlac10]));
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("gives every number item a range and decimals, and never joins several numbers or dates", () => {
    for (const i of dictionary.items.filter((x) => x.type === "number" || x.type === "date")) {
      expect(i.multiple, i.key).toBe(false);
      if (i.type === "number") {
        expect(i.decimals, i.key).toBeDefined();
        expect(i.range, i.key).toBeDefined();
      }
    }
  });
});

describe("buildDictionary rejects broken files with coded errors", () => {
  it("when the format marker is wrong → FORMAT_DICTIONARY_INVALID", async () => {
    const file = { ...(await readShipped()), format: "something-else" };
    expect(codeOf(() => buildDictionary(file))).toBe("FORMAT_DICTIONARY_INVALID");
  });

  it("when an item is over 512 bytes → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ maxBytes: 513 }])))).toBe("FORMAT_DICTIONARY_INVALID");
  });

  it("when a key is not lower-case words → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ key: "Height_cm" }])))).toBe("FORMAT_DICTIONARY_INVALID");
  });

  it("when a JLAC10 code is 16 characters → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ jlac10: "9N00100000000000" }])))).toBe(
      "FORMAT_DICTIONARY_INVALID",
    );
  });

  it("when a code item has no terms → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ type: "code" }])))).toBe("FORMAT_DICTIONARY_INVALID");
  });

  it("when a text item has a range → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ range: { min: 0, max: 1 } }])))).toBe(
      "FORMAT_DICTIONARY_INVALID",
    );
  });

  it("when an unknown property is present → FORMAT_DICTIONARY_INVALID", () => {
    expect(codeOf(() => buildDictionary(tiny([{ colour: "red" } as Partial<DictionaryItem>])))).toBe(
      "FORMAT_DICTIONARY_INVALID",
    );
  });

  it("when a key appears twice → FORMAT_DICTIONARY_DUPLICATE_KEY", () => {
    expect(codeOf(() => buildDictionary(tiny([{ key: "same" }, { key: "same" }])))).toBe(
      "FORMAT_DICTIONARY_DUPLICATE_KEY",
    );
  });

  it("when a standard name appears twice → FORMAT_DICTIONARY_DUPLICATE_KEY", () => {
    expect(codeOf(() => buildDictionary(tiny([{ name: "身長" }, { name: "身長" }])))).toBe(
      "FORMAT_DICTIONARY_DUPLICATE_KEY",
    );
  });

  it("when 項番 go backwards in the shipped file → FORMAT_DICTIONARY_DUPLICATE_KEY", async () => {
    const file = await readShipped();
    const items = [...file.items];
    const [first, second] = items;
    if (first === undefined || second === undefined) throw new Error("shipped dictionary too small");
    items[0] = second;
    items[1] = first;
    expect(codeOf(() => buildDictionary({ ...file, items }))).toBe("FORMAT_DICTIONARY_DUPLICATE_KEY");
  });

  it("accepts the unbroken base of each case above, so each failure has the stated cause", async () => {
    const shipped = await readShipped();
    expect(codeOf(() => buildDictionary(tiny([{}, {}])))).toBeUndefined();
    expect(codeOf(() => buildDictionary(shipped))).toBeUndefined();
  });

  it("when the file is missing → FORMAT_DICTIONARY_UNREADABLE", async () => {
    await expect(loadDictionary(`${shippedPath}.missing`)).rejects.toMatchObject({
      code: "FORMAT_DICTIONARY_UNREADABLE",
    });
  });
});

describe("item codes", () => {
  it("coded items carry their answer code system where the MHLW list is sourced, one code per term", async () => {
    const d = await loadDictionary(DEFAULT_DICTIONARY_PATH);
    const yesNo = d.item("medication-bp");
    if (!yesNo) throw new Error("medication-bp missing");
    expect(yesNo.termCodes).toEqual({ system: "urn:oid:1.2.392.200119.6.2003", codes: ["1", "2"] });
    expect(termCode(yesNo, "いいえ")).toEqual({
      system: "urn:oid:1.2.392.200119.6.2003",
      code: "2",
    });
    expect(d.item("urine-glucose")?.termCodes?.system).toBe("urn:oid:1.2.392.200119.6.2102");
    // Unsourced lists carry none (第4期 飲酒 answers differ from the terms we ship; 尿潜血 is a guess).
    expect(d.item("drinking")?.termCodes).toBeUndefined();
    expect(d.item("urine-occult-blood")?.termCodes).toBeUndefined();
    for (const item of d.items) {
      if (item.termCodes) expect(item.termCodes.codes).toHaveLength(item.terms?.length ?? -1);
    }
  });

  it("a dictionary whose termCodes do not match its terms is refused", () => {
    const file = {
      format: "kenshin-dictionary",
      version: "1.0.0",
      name: "t",
      items: [
        {
          no: 1,
          key: "a",
          name: "A",
          category: "c",
          type: "code",
          terms: ["x", "y"],
          maxBytes: 8,
          multiple: false,
          termCodes: { system: "s", codes: ["1"] },
        },
      ],
    };
    expect(() => buildDictionary(file)).toThrow(/termCodes/);
  });

  it("JLAC10 codes are only the sourced ones (胸部X線 所見の有無 since the IG's item table gives it)", async () => {
    const d = await loadDictionary(DEFAULT_DICTIONARY_PATH);
    // 1.1.0 left it out as a guess from the code pattern; 1.2.0 has it from the JP eCheckup IG's table.
    expect(d.item("chest-xray-presence")?.jlac10).toBe("9N206160700000011");
    // Still no public code: our own judgements and spare items, the 便潜血 days, LD(IFCC).
    expect(d.item("judgement-overall")?.jlac10).toBeUndefined();
    expect(d.item("fobt-day1")?.jlac10).toBeUndefined();
    expect(d.item("ld")?.jlac10).toBeUndefined();
    expect(d.item("height")?.jlac10).toBe("9N001000000000001");
    expect(MHLW_ITEM_CODE_SYSTEM).toBe("urn:oid:1.2.392.200119.6.1005");
  });
});
