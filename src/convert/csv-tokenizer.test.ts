import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CsvTokenizer, type RowProblem, type SourceRow, type TokenizerOptions } from "./csv-tokenizer.js";
import { splitAt } from "../../test/support/chunks.js";

const defaults: TokenizerOptions = { delimiter: ",", quote: '"', maxFieldLength: 1000, maxColumns: 50 };

function tokenize(chunks: readonly string[], opts: Partial<TokenizerOptions> = {}) {
  const rows: SourceRow[] = [];
  const problems: RowProblem[] = [];
  const t = new CsvTokenizer(
    { ...defaults, ...opts },
    { row: (r) => rows.push(r), problem: (p) => problems.push(p) },
  );
  for (const c of chunks) t.feed(c);
  t.end();
  return { rows: rows.map((r) => [r.line, ...r.fields]), problems: problems.map((p) => [p.line, p.code]) };
}

describe("CsvTokenizer", () => {
  it("reads RFC 4180 quoting, doubled quotes and line breaks inside quotes", () => {
    const { rows, problems } = tokenize(['a,"b ""x"", y",c\r\n"multi\r\nline",2,3\r\n']);
    expect(rows).toEqual([
      [1, "a", 'b "x", y', "c"],
      [2, "multi\r\nline", "2", "3"],
    ]);
    expect(problems).toEqual([]);
  });

  it("ends records at CRLF, LF and lone CR alike and skips blank lines", () => {
    expect(tokenize(["a,b\nc,d\re,f\r\n\r\ng,h"]).rows).toEqual([
      [1, "a", "b"],
      [2, "c", "d"],
      [3, "e", "f"],
      [5, "g", "h"],
    ]);
  });

  it("keeps empty trailing fields", () => {
    expect(tokenize(["a,,\n,\n"]).rows).toEqual([
      [1, "a", "", ""],
      [2, "", ""],
    ]);
  });

  it("when a quote is never closed → SOURCE_UNBALANCED_QUOTE for that row and the next lines still read", () => {
    const { rows, problems } = tokenize(['1,"open,x\n2,b\n3,c\n']);
    expect(problems).toEqual([[1, "SOURCE_UNBALANCED_QUOTE"]]);
    expect(rows).toEqual([
      [2, "2", "b"],
      [3, "3", "c"],
    ]);
  });

  it("keeps text after a closing quote literally", () => {
    expect(tokenize(['"ab"cd,e\n']).rows).toEqual([[1, "abcd", "e"]]);
  });

  it("when a field is larger than the limit → SOURCE_FIELD_TOO_LARGE and the following rows are read", () => {
    const big = "x".repeat(5000);
    const { rows, problems } = tokenize([`a,${big}\n"${big}",b\nok,1\n`], { maxFieldLength: 1024 });
    expect(problems).toEqual([
      [1, "SOURCE_FIELD_TOO_LARGE"],
      [2, "SOURCE_FIELD_TOO_LARGE"],
    ]);
    expect(rows).toEqual([[3, "ok", "1"]]);
  });

  it("when a row has too many columns → SOURCE_TOO_MANY_COLUMNS", () => {
    const { rows, problems } = tokenize(["a,b,c,d\n1,2\n"], { maxColumns: 3 });
    expect(problems).toEqual([[1, "SOURCE_TOO_MANY_COLUMNS"]]);
    expect(rows).toEqual([[2, "1", "2"]]);
  });

  it("reads tab-delimited exports without quoting", () => {
    expect(tokenize(['a\t"b\tc\n'], { delimiter: "\t", quote: null }).rows).toEqual([[1, "a", '"b', "c"]]);
  });

  it("counts lines inside quoted fields so later rows keep their line numbers", () => {
    expect(tokenize(['"a\r\nb\rc\nd",1\nx,2\n']).rows).toEqual([
      [1, "a\r\nb\rc\nd", "1"],
      [5, "x", "2"],
    ]);
  });

  const csvText = fc
    .array(fc.constantFrom("a", "b", ",", '"', "\r", "\n", "\r\n", "あ", "ｱ", " ", '""', "x".repeat(40)), {
      maxLength: 120,
    })
    .map((parts) => parts.join(""));

  it("gives the same rows and problems however the text is chunked (one character at a time too)", () => {
    fc.assert(
      fc.property(csvText, fc.array(fc.nat(200), { maxLength: 8 }), (text, cuts) => {
        const whole = tokenize([text], { maxFieldLength: 1024 });
        expect(tokenize(splitAt(text, cuts), { maxFieldLength: 1024 })).toEqual(whole);
        // One UTF-16 code unit at a time: the harshest chunking a decoder could produce.
        const units = Array.from({ length: text.length }, (_, k) => text.charAt(k));
        expect(tokenize(units, { maxFieldLength: 1024 })).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on arbitrary text, and every row or problem has a line within the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const { rows, problems } = tokenize([text], { maxFieldLength: 1024, maxColumns: 20 });
        const lines = text.split(/\r\n|\r|\n/).length;
        for (const [line] of [...rows, ...problems]) expect(line).toBeLessThanOrEqual(lines);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips fields written with RFC 4180 quoting", () => {
    const field = fc.string({ maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 5 }),
        (table) => {
          const text = table.map((r) => r.map((f) => `"${f.replaceAll('"', '""')}"`).join(",")).join("\r\n");
          const { rows, problems } = tokenize([text]);
          expect(problems).toEqual([]);
          expect(rows.map((r) => r.slice(1))).toEqual(table);
        },
      ),
    );
  });
});
