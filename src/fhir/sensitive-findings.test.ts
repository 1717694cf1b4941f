import { describe, expect, it } from "vitest";
import { loadDictionary } from "../format/dictionary.js";
import { findingSensitivity } from "./sensitive-findings.js";
import { resultClearance } from "./security-labels.js";

describe("restricted findings (R): infectious and psychiatric, from the item list", () => {
  it("in the shipped dictionary exactly the infection tests are R; tumour markers and the rest N", async () => {
    const dictionary = await loadDictionary("data/dictionary/kenshin-items.json");
    const restricted = dictionary.items.filter((i) => findingSensitivity(i).confidentiality === "R");
    expect(restricted.map((i) => i.key)).toEqual(["hbs-antigen", "hcv-antibody", "h-pylori-antibody"]);
    for (const key of ["cea", "psa", "ca19-9", "crp", "hba1c", "medical-history-detail"]) {
      const item = dictionary.item(key);
      expect(item).toBeDefined();
      if (item) expect(findingSensitivity(item).confidentiality).toBe("N");
    }
  });

  it("a licensee's items: HIV → R + HIV, syphilis → R + STD, mental health → R + PSY, microbiology codes → R", () => {
    expect(findingSensitivity({ key: "x1", name: "HIV抗原・抗体" })).toEqual({
      confidentiality: "R",
      acts: ["HIV"],
    });
    expect(findingSensitivity({ key: "x2", name: "梅毒TPHA" })).toEqual({
      confidentiality: "R",
      acts: ["STD"],
    });
    expect(findingSensitivity({ key: "x3", name: "ストレスチェック結果" })).toEqual({
      confidentiality: "R",
      acts: ["PSY"],
    });
    expect(
      findingSensitivity({ key: "x4", name: "喀痰培養", jlac10: "6B010000000000000" }).confidentiality,
    ).toBe("R");
    expect(
      findingSensitivity({ key: "x5", name: "HTLV-1抗体", jlac10: "5F421141002399811" }).confidentiality,
    ).toBe("R");
    expect(findingSensitivity({ key: "x6", name: "身長", jlac10: "9N001000000000001" }).confidentiality).toBe(
      "N",
    );
  });
});

describe("who is cleared for restricted findings (Z4)", () => {
  it("only a receiver whose institution number the configuration lists; nobody by default", () => {
    expect(resultClearance("06131111", ["06131111"])).toBe("R");
    expect(resultClearance("06131111", [])).toBe("N");
    expect(resultClearance("06139999", ["06131111"])).toBe("N");
    expect(resultClearance(null, ["06131111"])).toBe("N");
  });
});
