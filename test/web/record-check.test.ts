/**
 * The browser's per-record check (web/src/record-check.ts) hashes the same records as the CLI
 * (`recordHashesOf`): after the header, and after the JLAC10 code header row when a download has one.
 */
import { describe, expect, it } from "vitest";
import { recordHashes } from "../../web/src/record-check.js";
import { DEFAULT_DICTIONARY_PATH, loadDictionary } from "../../src/format/dictionary.js";
import { recordHashesOf } from "../../src/format/hash.js";
import { encodeHeader, encodeLine } from "../../src/format/standard-csv.js";

describe("browser record hashes", () => {
  it("skip the JLAC10 code header row like the CLI, and give the same hashes as the plain file", async () => {
    const dictionary = await loadDictionary(DEFAULT_DICTIONARY_PATH);
    const records = Buffer.concat([
      encodeLine(["1312345678", "", "20250401"], "utf-8"),
      Buffer.from("\r\n"),
      encodeLine(["1312345678", "", "20250402"], "utf-8"),
      Buffer.from("\r\n"),
    ]);
    const plain = Buffer.concat([encodeHeader(dictionary, "utf-8"), records]);
    const coded = Buffer.concat([encodeHeader(dictionary, "utf-8", { codeHeader: true }), records]);
    const hashes = (b: Buffer) => recordHashes(b).map((r) => r.hash);
    expect(hashes(plain)).toEqual(recordHashesOf(plain));
    expect(hashes(coded)).toEqual(hashes(plain));
    expect(recordHashes(coded).map((r) => r.line)).toEqual([3, 4]); // lines of the file as it is
    expect(recordHashes(plain).map((r) => r.line)).toEqual([2, 3]);
  });
});
