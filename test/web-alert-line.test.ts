/**
 * The office's monitoring lines (web/src/alert-line.ts, the browser's code run here): a burst names its
 * kind, count and threshold; a `transfer-damaged` alert (issue 11) says in Japanese that the transfer is
 * damaged on every copy and names only the transfer.
 */
import { describe, expect, it } from "vitest";
import { alertLine } from "../web/src/alert-line.js";
import { translate, type Lang } from "../web/src/i18n.js";

const tr = (lang: Lang) => (key: Parameters<typeof translate>[1], vars?: Parameters<typeof translate>[2]) =>
  translate(lang, key, vars);
const at = (iso: string) => `at ${iso}`;

describe("alertLine", () => {
  it("a transfer damaged on every copy, in Japanese and English", () => {
    const a = {
      time: "2026-12-01T08:00:00.000Z",
      kind: "transfer-damaged",
      count: 1,
      threshold: 0,
      windowMinutes: 0,
      subject: "tr_abcdefghijklmnop",
    };
    expect(alertLine(tr("ja"), a, at)).toBe(
      "警告 at 2026-12-01T08:00:00.000Z: 転送 tr_abcdefghijklmnop のファイルが全ての複製で破損しています (復旧不可)",
    );
    expect(alertLine(tr("en"), a, at)).toBe(
      "Alert at 2026-12-01T08:00:00.000Z: transfer tr_abcdefghijklmnop is damaged on every copy (cannot be repaired)",
    );
  });

  it("a burst keeps its count and threshold line", () => {
    const a = {
      time: "2026-12-01T08:00:00.000Z",
      kind: "downloads",
      count: 12,
      threshold: 10,
      windowMinutes: 5,
    };
    expect(alertLine(tr("ja"), a, at)).toBe(
      "警告 at 2026-12-01T08:00:00.000Z: downloads が 5 分間に 12 件 (しきい値 10)",
    );
  });
});
