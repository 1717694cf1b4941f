/** Dates formatted with the person's choices (language, 和暦 on or off): the one way pages show time. */
import { formatDate, formatDateTime } from "./format.js";
import { useI18n } from "./i18n.js";

export function useDates(): {
  dateTime: (iso: string | null) => string;
  date: (iso: string | null) => string;
} {
  const { lang, wareki } = useI18n();
  return {
    dateTime: (iso) => formatDateTime(iso, lang, wareki),
    date: (iso) => formatDate(iso, lang, wareki),
  };
}
