/**
 * Dates and sizes for people, in Japan time (the service's users are in Japan whatever the PC says).
 */
import type { Lang } from "./i18n.js";

const ZONE = "Asia/Tokyo";

/** The parts of an instant in Japan time, as numbers. */
function partsOf(d: Date): Record<"year" | "month" | "day" | "hour" | "minute", string> {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(d);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? "";
  return {
    year: get("year"),
    month: get("month"),
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
  };
}

/** 「令和8年」: the Japanese era year of an instant (Japan time). */
export function warekiYear(d: Date): string {
  const parts = new Intl.DateTimeFormat("ja-JP-u-ca-japanese", {
    timeZone: ZONE,
    era: "long",
    year: "numeric",
  })
    .formatToParts(d)
    .filter((p) => p.type === "era" || p.type === "year")
    .map((p) => p.value);
  const text = parts.join("");
  return text.endsWith("年") ? text : `${text}年`;
}

function parse(iso: string | null): Date | undefined {
  if (iso === null) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * One date format everywhere, in Japan time: 「2026/06/03 10:15」 (the same digits in English). With
 * `wareki` the Japanese era follows the date: 「2026/06/03 (令和8年) 10:15」. Lists label the column
 * 日本時間 (Japan time) once instead of repeating it.
 */
export function formatDateTime(iso: string | null, _lang: Lang, wareki = false): string {
  const d = parse(iso);
  if (!d) return "—";
  const p = partsOf(d);
  const era = wareki ? ` (${warekiYear(d)})` : "";
  return `${p.year}/${p.month}/${p.day}${era} ${p.hour}:${p.minute}`;
}

/** 「2026/06/03」, or 「2026/06/03 (令和8年)」 with `wareki`. */
export function formatDate(iso: string | null, _lang: Lang, wareki = false): string {
  const d = parse(iso);
  if (!d) return "—";
  const p = partsOf(d);
  return `${p.year}/${p.month}/${p.day}${wareki ? ` (${warekiYear(d)})` : ""}`;
}

/** 「20260603」: the date part of a file name. */
export function fileDate(iso: string | null): string {
  const d = parse(iso) ?? new Date();
  const p = partsOf(d);
  return `${p.year}${p.month}${p.day}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Saves bytes as a file through a temporary Blob link (no data: URL, no new window). */
export function saveBytes(bytes: Uint8Array | Blob, fileName: string, type: string): void {
  const blob = bytes instanceof Blob ? bytes : new Blob([new Uint8Array(bytes)], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 60_000);
}
