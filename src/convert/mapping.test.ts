import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DICTIONARY_PATH, loadDictionary, type Dictionary } from "../format/dictionary.js";
import { parseMapping } from "./mapping.js";
import { checkMapping } from "./mapping-check.js";
import { mappingJsonSchema } from "./mapping-schema.js";
import { checkYaml, loadReference } from "../../test/support/convert-run.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus, type Thesaurus } from "./thesaurus.js";

let dictionary: Dictionary;
let thesaurus: Thesaurus;
beforeAll(async () => {
  [dictionary, thesaurus] = await Promise.all([
    loadDictionary(DEFAULT_DICTIONARY_PATH),
    loadThesaurus(DEFAULT_THESAURUS_PATH),
  ]);
});

const base = (fields: string, extra = "") => `
format: kenshin-mapping
version: 1
name: t
layout: wide
source: { encoding: utf-8 }
codeTables: { sex: { "1": 男性, "2": 女性 } }
fields:
${fields}
${extra}`;

const checked = (yaml: string) => checkMapping(parseMapping(yaml), dictionary, thesaurus);

describe("parseMapping", () => {
  it("accepts both shipped examples", async () => {
    for (const name of ["wide-cp932", "long-utf8"]) {
      const text = await readFile(`examples/${name}/mapping.yaml`, "utf8");
      expect(() => checked(text)).not.toThrow();
    }
  });

  it("when the YAML is broken → MAP_SYNTAX with the line", () => {
    expect(() => parseMapping("format: kenshin-mapping\nfields: [\n")).toThrow(
      expect.objectContaining({
        code: "MAP_SYNTAX",
        context: expect.objectContaining({ line: expect.any(Number) as unknown }) as unknown,
      }),
    );
  });

  it("when a field has both a column and a constant → MAP_SCHEMA naming the field", () => {
    expect(() => parseMapping(base('  - { item: sex, column: a, constant: "1" }'))).toThrow(
      expect.objectContaining({
        code: "MAP_SCHEMA",
        message: expect.stringContaining("fields[0]") as unknown,
      }),
    );
  });

  it("when a key is misspelt → MAP_SCHEMA (unknown keys are not ignored)", () => {
    expect(() => parseMapping(base("  - { item: sex, colum: a }"))).toThrow(
      expect.objectContaining({ code: "MAP_SCHEMA" }),
    );
  });

  it("when the format version is newer → MAP_UNSUPPORTED_VERSION", () => {
    expect(() =>
      parseMapping(base("  - { item: sex, column: a }").replace("version: 1", "version: 2")),
    ).toThrow(expect.objectContaining({ code: "MAP_UNSUPPORTED_VERSION" }));
  });
});

describe("checkMapping", () => {
  it("when an item is not in the dictionary → MAP_UNKNOWN_ITEM", () => {
    expect(() => checked(base("  - { item: no-such-item, column: a }"))).toThrow(
      expect.objectContaining({ code: "MAP_UNKNOWN_ITEM" }),
    );
  });

  it("when a code table maps to a term the item does not allow → MAP_INVALID_RULE", () => {
    expect(() => checked(base("  - { item: sex, column: a, codes: { M: 男 } }"))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
  });

  it("when a named code table is missing → MAP_INVALID_RULE", () => {
    expect(() => checked(base("  - { item: sex, column: a, codes: gender }"))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
  });

  it("when several columns feed an item that holds one value → MAP_INVALID_RULE", () => {
    expect(() => checked(base("  - { item: height, columns: [a, b] }"))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
  });

  it("when an item is mapped twice → MAP_INVALID_RULE", () => {
    expect(() => checked(base("  - { item: height, column: a }\n  - { item: height, column: b }"))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
  });

  it("when a thesaurus domain does not exist → MAP_THESAURUS_UNKNOWN", () => {
    expect(() => checked(base("  - { item: ecg-finding, column: a, thesaurus: mri }"))).toThrow(
      expect.objectContaining({ code: "MAP_THESAURUS_UNKNOWN" }),
    );
  });

  it("when a thesaurus or unit conversion is put on the wrong type → MAP_INVALID_RULE", () => {
    expect(() => checked(base("  - { item: height, column: a, thesaurus: ecg }"))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
    expect(() => checked(base('  - { item: sex, column: a, unit: { from: x, factor: "2" } }'))).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
  });

  it("when 所見の有無 is derived from a finding without a thesaurus → MAP_INVALID_RULE", () => {
    expect(() =>
      checked(
        base("  - { item: ecg-finding, column: a }", "presence: [{ item: ecg-presence, from: ecg-finding }]"),
      ),
    ).toThrow(expect.objectContaining({ code: "MAP_INVALID_RULE" }));
  });
});

describe("referenceRanges (基準値 for the FHIR output)", () => {
  const withRanges = (ranges: string) => `
format: kenshin-mapping
version: 1
name: t
layout: wide
source: { encoding: utf-8 }
fields:
  - { item: examinee-id, column: ID }
referenceRanges:
${ranges}
`;
  it("accepts low/high/text on number items", async () => {
    const ref = await loadReference();
    const checked = checkYaml(
      ref,
      withRanges("  triglycerides: { low: 30, high: 149 }\n  hba1c: { text: 5.5 以下 }"),
    );
    expect(checked.mapping.referenceRanges).toEqual({
      triglycerides: { low: 30, high: 149 },
      hba1c: { text: "5.5 以下" },
    });
  });
  it.each([
    ["  sex: { low: 1 }", "数値の項目"],
    ["  triglycerides: { low: 150, high: 30 }", "より大きく"],
    ["  triglycerides: {}", "どれか"],
    ["  trigliserides: { low: 1 }", "triglycerides"],
  ])("refuses %s with a coded Japanese message", async (ranges, words) => {
    const ref = await loadReference();
    expect(() => checkYaml(ref, withRanges(ranges))).toThrow(
      expect.objectContaining({
        code: expect.stringMatching(/^MAP_/) as unknown,
        message: expect.stringContaining(words) as unknown,
      }),
    );
  });
});

describe("schema/mapping.schema.json", () => {
  it("is the JSON Schema generated from the mapping definition (run `kenshin map schema` to refresh)", async () => {
    const committed = JSON.parse(await readFile("schema/mapping.schema.json", "utf8")) as unknown;
    expect(committed).toEqual(mappingJsonSchema());
  });
});
