import { describe, expect, it } from "vitest";
import { parseMapping } from "./mapping.js";
import { ConvertError } from "./errors.js";
import { japaneseCommanderError } from "../cli/japanese-errors.js";

const base = `format: kenshin-mapping
version: 1
name: t
layout: wide
source: { encoding: utf-8 }
fields:
  - { item: examinee-id, column: ID }
`;

function schemaError(yaml: string): ConvertError {
  try {
    parseMapping(yaml);
  } catch (error) {
    if (error instanceof ConvertError) return error;
    throw error;
  }
  throw new Error("no error");
}

describe("mapping schema errors in Japanese", () => {
  it("an unknown key is named with the offending path and the closest known key", () => {
    const e = schemaError(base.replace("column: ID }", "column: ID, transform: upper }"));
    expect(e.code).toBe("MAP_SCHEMA");
    expect(e.message).toContain("fields[0]");
    expect(e.message).toContain("「transform」という設定はありません");
    expect(e.message).not.toMatch(/Unrecognized/);
    const typo = schemaError(base.replace("column: ID }", "column: ID, thesarus: ecg }"));
    expect(typo.message).toContain("もしかして「thesaurus」");
  });

  it("a wrong type, a wrong choice and a missing key say what was expected and what was found", () => {
    expect(schemaError(base.replace("encoding: utf-8", "encoding: sjis")).message).toMatch(
      /source\.encoding: 次のどれかにしてください: cp932、utf-8、auto \(「sjis」が書かれています\)/,
    );
    expect(schemaError(base.replace("name: t", "name: [a]")).message).toContain(
      "name: 文字列で指定してください (リストが書かれています)",
    );
    expect(schemaError(base.replace("layout: wide\n", "")).message).toContain(
      "layout: 必須の設定がありません",
    );
  });

  it("the schema's own rules speak Japanese too", () => {
    expect(schemaError(base.replace("column: ID }", "column: ID, constant: x }")).message).toContain(
      "column・columns・constant のどれか1つだけ",
    );
  });
});

describe("CLI argument errors in Japanese", () => {
  it("re-words commander's messages and keeps unknown ones", () => {
    expect(japaneseCommanderError("error: unknown option '--mapp'\n(Did you mean --map?)")).toBe(
      "エラー: 不明なオプション「--mapp」です\n(もしかして --map ですか)",
    );
    expect(japaneseCommanderError("error: required option '--map <mapping>' not specified")).toBe(
      "エラー: オプション「--map <mapping>」は必須です",
    );
    expect(japaneseCommanderError("error: missing required argument 'input'")).toBe(
      "エラー: 引数「input」を指定してください",
    );
    expect(
      japaneseCommanderError("error: too many arguments for 'check'. Expected 1 argument but got 2."),
    ).toBe("エラー: 「check」の引数が多すぎます (1 個まで、指定は 2 個)");
    expect(japaneseCommanderError("something new")).toBe("something new");
  });
});
