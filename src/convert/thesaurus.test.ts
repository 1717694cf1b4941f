import { readFile } from "node:fs/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConvertError } from "./errors.js";
import type { ThesaurusDomain, ThesaurusFile } from "./thesaurus.js";
import {
  buildThesaurus,
  DEFAULT_THESAURUS_PATH,
  findingMatchKey,
  loadThesaurus,
  lookupFindings,
  splitFindings,
} from "./thesaurus.js";

const DOMAINS = ["ecg", "chest-xray", "fundus", "abdominal-us", "upper-gi-xray", "upper-gi-endoscopy"];

const file = JSON.parse(await readFile(DEFAULT_THESAURUS_PATH, "utf8")) as ThesaurusFile;
const thesaurus = await loadThesaurus(DEFAULT_THESAURUS_PATH);

function domainOf(name: string): ThesaurusDomain {
  const found = thesaurus.domain(name);
  if (found === undefined) throw new Error(`missing domain ${name}`);
  return found;
}
const ecg = domainOf("ecg");

/** Every (domain, phrase, standard term) pair of the shipped file, for table and property tests. */
const SYNONYMS = Object.entries(file.domains).flatMap(([domain, d]) =>
  d.terms.flatMap((t) => [t.term, ...t.synonyms].map((phrase) => ({ domain, phrase, term: t.term }))),
);

function invalidCode(json: unknown): string | undefined {
  try {
    buildThesaurus(json);
  } catch (error) {
    if (error instanceof ConvertError) return error.code;
    throw error;
  }
  return undefined;
}

function tiny(domain: { normal?: string[]; terms: { term: string; synonyms: string[] }[] }): unknown {
  return {
    format: "kenshin-thesaurus",
    version: "1.0.0",
    name: "t",
    domains: { ecg: { normal: [], ...domain } },
  };
}

describe("the shipped thesaurus", () => {
  it("has the six finding domains with 20–40 standard terms and normal phrases each", () => {
    expect(thesaurus.version).toBe("1.0.0");
    expect(thesaurus.domainNames().sort()).toEqual([...DOMAINS].sort());
    for (const name of DOMAINS) {
      const domain = domainOf(name);
      expect(domain.terms.length, name).toBeGreaterThanOrEqual(20);
      expect(domain.terms.length, name).toBeLessThanOrEqual(40);
      expect(lookupFindings(domain, "異常なし").normal, name).toBe(true);
      expect(lookupFindings(domain, "WNL").normal, name).toBe(true);
    }
  });

  it("maps every term and synonym to its standard term", () => {
    for (const { domain, phrase, term } of SYNONYMS) {
      expect(lookupFindings(domainOf(domain), phrase), `${domain}: ${phrase}`).toEqual({
        terms: [term],
        unknown: [],
        normal: false,
      });
    }
  });

  it("knows the ECG examples people type", () => {
    const terms = (text: string): string[] => lookupFindings(ecg, text).terms;
    expect(terms("洞頻脈")).toEqual(["洞性頻脈"]);
    expect(terms("sinus tachycardia")).toEqual(["洞性頻脈"]);
    expect(terms("完全右脚ﾌﾞﾛｯｸ")).toEqual(["完全右脚ブロック"]);
    expect(terms("ＣＲＢＢＢ")).toEqual(["完全右脚ブロック"]);
    expect(terms("VPC、PVC，心室期外収縮")).toEqual(["心室性期外収縮"]);
    expect(terms("ST－T変化")).toEqual(["ST-T変化"]);
    expect(terms("STーT変化")).toEqual(["ST-T変化"]);
  });
});

describe("lookupFindings", () => {
  it("splits on 、 , ， ; ； / ／ and line breaks, in first-seen order", () => {
    expect(lookupFindings(ecg, "PVC、洞性徐脈,LAD；QT延長/CRBBB／陰性T\r\n心房細動\nPVC").terms).toEqual([
      "心室性期外収縮",
      "洞性徐脈",
      "左軸偏位",
      "QT延長",
      "完全右脚ブロック",
      "陰性T波",
      "心房細動",
    ]);
  });

  it("splits on runs of two or more spaces (also ideographic) but not on one space or ・", () => {
    expect(lookupFindings(ecg, "PVC  LAD\u3000\u3000RAD").terms).toEqual([
      "心室性期外収縮",
      "左軸偏位",
      "右軸偏位",
    ]);
    expect(lookupFindings(ecg, "完全 右脚ブロック").terms).toEqual(["完全右脚ブロック"]);
    expect(lookupFindings(ecg, "ST・T変化").terms).toEqual(["ST-T変化"]);
    expect(splitFindings("右肺上葉 結節影")).toEqual(["右肺上葉 結節影"]);
  });

  it("is normal only when every part is a normal phrase", () => {
    expect(lookupFindings(ecg, "異常なし")).toEqual({ terms: [], unknown: [], normal: true });
    expect(lookupFindings(ecg, " ＷＮＬ 。")).toEqual({ terms: [], unknown: [], normal: true });
    expect(lookupFindings(ecg, "正常範囲、洞調律")).toEqual({ terms: [], unknown: [], normal: true });
    expect(lookupFindings(ecg, "異常なし、PVC")).toEqual({
      terms: ["心室性期外収縮"],
      unknown: [],
      normal: false,
    });
    expect(lookupFindings(ecg, "異常なし、要経過観察")).toEqual({
      terms: [],
      unknown: ["要経過観察"],
      normal: false,
    });
    expect(lookupFindings(ecg, "")).toEqual({ terms: [], unknown: [], normal: false });
    expect(lookupFindings(ecg, "、 、\n")).toEqual({ terms: [], unknown: [], normal: false });
  });

  it("returns unknown parts NFKC-normalised and trimmed, otherwise as written, once each", () => {
    expect(lookupFindings(ecg, "  ＸＹＺ 病変 、PVC、ＸＹＺ 病変").unknown).toEqual(["XYZ 病変"]);
    expect(lookupFindings(ecg, "ｶﾙﾃ参照").unknown).toEqual(["カルテ参照"]);
  });

  it("every synonym maps to its term however it is padded, spaced, cased or widened (property)", () => {
    const variant = fc
      .record({
        index: fc.nat(SYNONYMS.length - 1),
        flips: fc.array(fc.constantFrom("keep", "wide", "case", "space"), { minLength: 64, maxLength: 64 }),
        left: fc.constantFrom("", " ", "\u3000", "  ", "\t"),
        right: fc.constantFrom("", " ", "\u3000\u3000", "。"),
      })
      .map(({ index, flips, left, right }) => {
        const entry = SYNONYMS[index] ?? { domain: "ecg", phrase: "PVC", term: "心室性期外収縮" };
        const original = Array.from(entry.phrase);
        const chars = original.map((ch, i) => {
          const how = flips[i % flips.length];
          const ascii = ch.charCodeAt(0) >= 0x21 && ch.charCodeAt(0) <= 0x7e;
          if (how === "wide" && ascii) return String.fromCharCode(ch.charCodeAt(0) + 0xfee0);
          if (how === "case" && ascii) return ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
          // One inserted space only: two in a row are a separator by contract.
          if (how === "space" && i > 0 && ch !== " " && original[i - 1] !== " ") return ` ${ch}`;
          return ch;
        });
        return { ...entry, text: `${left}${chars.join("")}${right}` };
      });
    fc.assert(
      fc.property(variant, ({ domain, text, term }) => {
        expect(lookupFindings(domainOf(domain), text).terms).toEqual([term]);
      }),
      { numRuns: 500 },
    );
  });

  it("maps any list of synonyms to their terms in order, deduplicated (property)", () => {
    const ecgSynonyms = SYNONYMS.filter((s) => s.domain === "ecg");
    const list = fc.array(
      fc.record({
        i: fc.nat(ecgSynonyms.length - 1),
        sep: fc.constantFrom("、", ",", "；", "／", "\r\n", "  "),
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(list, (parts) => {
        const picked = parts.map((p) => ({ entry: ecgSynonyms[p.i], sep: p.sep }));
        const text = picked.map((p) => `${p.entry?.phrase ?? ""}${p.sep}`).join("");
        const expected = [...new Set(picked.map((p) => p.entry?.term ?? ""))];
        expect(lookupFindings(ecg, text)).toEqual({ terms: expected, unknown: [], normal: false });
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on arbitrary text and keeps its invariants (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        const result = lookupFindings(ecg, text);
        for (const term of result.terms) expect(ecg.terms).toContain(term);
        for (const part of result.unknown) expect(part).toBe(part.normalize("NFKC").trim());
        if (result.normal) expect(result.terms.length + result.unknown.length).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe("findingMatchKey", () => {
  it("folds width, case, inner spaces and dash variants to one key", () => {
    const key = findingMatchKey("ST-T変化");
    for (const v of ["ＳＴ－Ｔ変化", "st−t変化", "ST ー T 変化", "ST‐T変化。", "ｓｔ―ｔ変化"]) {
      expect(findingMatchKey(v), v).toBe(key);
    }
  });
});

describe("buildThesaurus rejects bad files with THESAURUS_INVALID", () => {
  const PVC = { term: "心室性期外収縮", synonyms: ["PVC"] };

  it("accepts a minimal valid file", () => {
    expect(invalidCode(tiny({ terms: [PVC] }))).toBeUndefined();
  });

  it("when a synonym leads to two different terms (also after normalisation)", () => {
    expect(invalidCode(tiny({ terms: [PVC, { term: "上室性期外収縮", synonyms: ["ＰＶＣ"] }] }))).toBe(
      "THESAURUS_INVALID",
    );
  });

  it("when a phrase is both a finding and a normal phrase", () => {
    expect(invalidCode(tiny({ normal: ["pvc"], terms: [PVC] }))).toBe("THESAURUS_INVALID");
  });

  it("when a standard term appears twice", () => {
    expect(invalidCode(tiny({ terms: [PVC, { term: "心室性期外収縮", synonyms: [] }] }))).toBe(
      "THESAURUS_INVALID",
    );
  });

  it("when a synonym is only spaces, or holds a separator it could never be matched across", () => {
    expect(invalidCode(tiny({ terms: [{ term: "PVC", synonyms: ["\u3000 "] }] }))).toBe("THESAURUS_INVALID");
    expect(invalidCode(tiny({ terms: [{ term: "乳頭陥凹拡大", synonyms: ["C/D比拡大"] }] }))).toBe(
      "THESAURUS_INVALID",
    );
  });

  it("when the format marker, version or a domain name is wrong, or a property is unknown", () => {
    const good = tiny({ terms: [PVC] }) as Record<string, unknown>;
    expect(invalidCode({ ...good, format: "kenshin-dictionary" })).toBe("THESAURUS_INVALID");
    expect(invalidCode({ ...good, version: "1" })).toBe("THESAURUS_INVALID");
    expect(invalidCode({ ...good, domains: { ECG: { normal: [], terms: [] } } })).toBe("THESAURUS_INVALID");
    expect(invalidCode({ ...good, extra: true })).toBe("THESAURUS_INVALID");
    expect(invalidCode(null)).toBe("THESAURUS_INVALID");
  });

  it("when the file is missing or not JSON (loadThesaurus)", async () => {
    await expect(loadThesaurus(new URL("./no-such-file.json", DEFAULT_THESAURUS_PATH))).rejects.toMatchObject(
      {
        code: "THESAURUS_INVALID",
      },
    );
    await expect(loadThesaurus(new URL(import.meta.url))).rejects.toMatchObject({
      code: "THESAURUS_INVALID",
    });
  });
});
