import { describe, expect, it } from "vitest";
import { withCodeHeader } from "./code-header-stream.js";
import { DEFAULT_DICTIONARY_PATH, loadDictionary } from "./dictionary.js";
import { recordHashesOf } from "./hash.js";
import { codeHeaderCells, encodeHeader, encodeLine, headerCells } from "./standard-csv.js";

const dictionary = await loadDictionary(DEFAULT_DICTIONARY_PATH);

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) {
    await Promise.resolve();
    yield bytes.subarray(i, i + size);
  }
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const record = (enc: "utf-8" | "cp932") =>
  Buffer.concat([encodeLine(["1312345678", "", "20250401", "", "健診 太郎"], enc), Buffer.from("\r\n")]);

describe("the JLAC10 code header row put into a stored standard CSV", () => {
  it.each([
    ["utf-8", 7],
    ["cp932", 1000],
  ] as const)(
    "%s, in chunks of %i bytes: the same bytes the CLI's --code-header writes",
    async (enc, size) => {
      const plain = Buffer.concat([encodeHeader(dictionary, enc), record(enc), record(enc)]);
      const coded = await collect(await withCodeHeader(chunksOf(plain, size), dictionary));
      expect(coded).toEqual(
        Buffer.concat([encodeHeader(dictionary, enc, { codeHeader: true }), record(enc), record(enc)]),
      );
      expect(coded.toString("latin1").split("\r\n")[1]).toBe(codeHeaderCells(dictionary).join(","));
      expect(recordHashesOf(coded)).toEqual(recordHashesOf(plain));
    },
  );

  it("refuses a file whose header is not this dictionary's, or that already has the row", async () => {
    const other = Buffer.concat([encodeLine(headerCells(dictionary).slice(2), "utf-8"), Buffer.from("\r\n")]);
    await expect(withCodeHeader(chunksOf(other, 64), dictionary)).rejects.toMatchObject({
      code: "FORMAT_NOT_STANDARD_CSV",
    });
    const already = encodeHeader(dictionary, "utf-8", { codeHeader: true });
    await expect(withCodeHeader(chunksOf(already, 64), dictionary)).rejects.toMatchObject({
      code: "FORMAT_NOT_STANDARD_CSV",
      message: expect.stringContaining("JLAC10") as unknown,
    });
    await expect(withCodeHeader(chunksOf(Buffer.from("no line break"), 4), dictionary)).rejects.toMatchObject(
      {
        code: "FORMAT_NOT_STANDARD_CSV",
      },
    );
  });
});
