/**
 * A stored standard CSV, streamed, with the JLAC10 code header row put in as its second line — the
 * same row `kenshin convert --code-header` writes (`codeHeaderCells`), for receivers whose systems key
 * on codes. The records are untouched, so their hashes (and `recordHashesOf`, which skips the row) are
 * the same; the file hash is that of the file plus one line (the ledger records the download as
 * `csv-code-header`, and removing the row gives back the file whose hash the ledger holds).
 *
 * The header row is read first and must be exactly the dictionary's (UTF-8 or CP932): a file from
 * another dictionary would get codes under the wrong columns, so it is refused before anything is sent.
 */
import type { Dictionary } from "./dictionary.js";
import { FormatError } from "./errors.js";
import { CODE_HEADER_LABEL, codeHeaderCells, CRLF, encodeLine, headerCells } from "./standard-csv.js";

/** A header row longer than this is not ours (every dictionary header is far shorter). */
const MAX_HEADER_BYTES = 1 << 20;

/**
 * Reads the stream up to the end of its header row, checks it, and returns a stream that yields the
 * header row, the code header row, then the rest of the original bytes.
 * @throws FormatError FORMAT_NOT_STANDARD_CSV when the header is not the dictionary's or the file
 *   already has a code header row.
 */
export async function withCodeHeader(
  chunks: AsyncIterable<Uint8Array>,
  dictionary: Dictionary,
): Promise<AsyncIterable<Uint8Array>> {
  const iterator = chunks[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let end = -1;
  let buffered = Buffer.alloc(0);
  while (end < 0) {
    const next = await iterator.next();
    if (next.done === true) break;
    head.push(Buffer.from(next.value));
    headBytes += next.value.length;
    buffered = Buffer.concat(head, headBytes);
    end = buffered.indexOf(CRLF);
    if (end < 0 && headBytes > MAX_HEADER_BYTES) break;
  }
  const refuse = (why: string): never => {
    void iterator.return?.();
    throw new FormatError("FORMAT_NOT_STANDARD_CSV", why, { dictionary: dictionary.version });
  };
  if (end < 0) return refuse("標準フォーマットの見出し行がありません");
  const header = buffered.subarray(0, end);
  const expected = headerCells(dictionary);
  if (!header.equals(encodeLine(expected, "utf-8")) && !header.equals(encodeLine(expected, "cp932"))) {
    return refuse(
      `見出し行が辞書 (${dictionary.name} ${dictionary.version}) の標準フォーマットと一致しません`,
    );
  }
  const rest = buffered.subarray(end + CRLF.length);
  if (rest.subarray(0, CODE_HEADER_LABEL.length + 1).equals(Buffer.from(`${CODE_HEADER_LABEL},`))) {
    return refuse("このファイルには既に JLAC10 コード行があります");
  }
  // The code header is ASCII: the same bytes in UTF-8 and CP932.
  const codeRow = Buffer.concat([encodeLine(codeHeaderCells(dictionary), "utf-8"), Buffer.from(CRLF)]);
  const first = Buffer.concat([buffered.subarray(0, end + CRLF.length), codeRow, rest]);
  let sentFirst = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        if (!sentFirst) {
          sentFirst = true;
          return { done: false, value: first };
        }
        return iterator.next();
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        await iterator.return?.();
        return { done: true, value: undefined };
      },
    }),
  };
}
