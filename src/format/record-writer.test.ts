import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cp932ByteLength } from "./cp932.js";
import type { OutputEncoding } from "./output-encoding.js";
import { RecordWriter } from "./record-writer.js";
import { encodeRecord, type StandardRecord } from "./standard-csv.js";

const cell = fc.oneof(
  fc.constant(""),
  fc.constantFrom("170.5", "男性", "ｹﾝｼﾝ", 'a"b', "a,b", "x\r\ny", "～", "'=1"),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "grapheme", maxLength: 4 }),
);

describe("RecordWriter", () => {
  it("writes the same bytes as encodeRecord, records one after another with CRLF", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<OutputEncoding>("utf-8", "cp932"),
        fc.array(fc.array(fc.tuple(cell, cell), { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
        (encoding, records) => {
          const writer = new RecordWriter(encoding);
          const expected: Buffer[] = [];
          for (const cells of records) {
            // CP932 output only ever gets representable text (the record rules refuse the rest).
            const usable =
              encoding === "cp932"
                ? cells.map(([v, o]) => [cp932ByteLength(v) < 0 ? "" : v, cp932ByteLength(o) < 0 ? "" : o])
                : cells;
            const record: StandardRecord = {
              values: usable.map((c) => c[0] ?? ""),
              originals: usable.map((c) => c[1] ?? ""),
            };
            const { bytes } = encodeRecord(record, encoding);
            const span = writer.writeRecord(record);
            expect(Buffer.from(writer.view(span.start, span.end))).toEqual(bytes);
            expected.push(bytes, Buffer.from("\r\n"));
          }
          expect(Buffer.from(writer.take())).toEqual(Buffer.concat(expected));
          expect(writer.length).toBe(0);
        },
      ),
    );
  });

  it("grows past its first buffer for a huge record", () => {
    const writer = new RecordWriter("utf-8");
    const big = "漢".repeat(1_000_000);
    const record = { values: [big, "a"], originals: ["", ""] };
    const span = writer.writeRecord(record);
    // equals(), not toEqual: a deep comparison of 3 MB byte by byte is slow.
    expect(writer.view(span.start, span.end).equals(encodeRecord(record, "utf-8").bytes)).toBe(true);
  });
});
