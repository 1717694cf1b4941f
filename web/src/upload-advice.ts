/**
 * Before and after an upload, what to tell the clerk who chose a file: a file that is plainly not a CSV
 * (an image, a PDF, an Excel workbook, anything with NUL bytes) is refused here, before it is sealed and
 * sent, with advice; a refusal by the service is said without the internal path (「(fields[1])」) and with
 * what to do next.
 */
import type { ApiError } from "./api.js";
import type { MessageKey } from "./i18n.js";

const SNIFF_BYTES = 4096;

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/** Why `file` cannot be a CSV export, or undefined when it may be one. */
export async function notCsvReason(file: Blob & { readonly name?: string }): Promise<MessageKey | undefined> {
  if (file.size === 0) return "sendEmpty";
  const name = (file.name ?? "").toLowerCase();
  const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
  const zip = startsWith(head, [0x50, 0x4b, 0x03, 0x04]);
  const ole = startsWith(head, [0xd0, 0xcf, 0x11, 0xe0]);
  if (name.endsWith(".xlsx") || name.endsWith(".xls") || zip || ole) return "sendExcel";
  if (head.includes(0)) return "sendNotCsv";
  return undefined;
}

/** The service's words without internal paths such as 「(fields[1])」 or 「(source.header)」. */
export function withoutInternalPath(text: string): string {
  return (
    text
      // A mapping path, or advice on which mapping key to change: both are for the office, who keeps the
      // mapping (the page's own advice says to ask them), not for the clerk choosing a file.
      .replace(/\s*\((?:fields|source|long|computed|codeTables|マッピングの)[^()]*\)/g, "")
      .replace(/^ファイルを変換できません:\s*/, "")
  );
}

/** Whether a refusal is about the file itself (so the advice about choosing the file applies). */
export function isFileProblem(error: ApiError): boolean {
  return error.code === "UPLOAD_UNUSABLE" || error.code === "MAPPING_INVALID";
}
