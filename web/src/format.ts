/**
 * Dates and sizes for people, in Japan time (the service's users are in Japan whatever the PC says).
 */
import type { Lang } from "./i18n.js";

const ZONE = "Asia/Tokyo";

/** "2025年6月3日 10:15" / "3 Jun 2025, 10:15". */
export function formatDateTime(iso: string | null, lang: Lang): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleString(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: ZONE,
    year: "numeric",
    month: lang === "ja" ? "numeric" : "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** "2025年6月3日" / "3 June 2025". */
export function formatDate(iso: string | null, lang: Lang): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleDateString(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: ZONE,
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Saves bytes as a file through a temporary Blob link (no data: URL, no new window). */
export function saveBytes(bytes: Uint8Array, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
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
