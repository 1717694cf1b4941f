/**
 * One line of the office's monitoring alerts: a burst (「{kind} が {minutes} 分間に {count} 件」) or a
 * transfer whose payload no copy could repair (issue 11, kind `transfer-damaged`: its ID, nothing else).
 */
import type { Translate } from "./i18n.js";

export interface AlertView {
  readonly time: string;
  readonly kind: string;
  readonly count: number;
  readonly threshold: number;
  readonly windowMinutes: number;
  readonly subject?: string;
}

export function alertLine(t: Translate, a: AlertView, dateTime: (iso: string) => string): string {
  const time = dateTime(a.time);
  if (a.kind === "transfer-damaged") return t("monAlertDamaged", { time, transfer: a.subject ?? "-" });
  return t("monAlert", {
    time,
    kind: a.kind,
    count: a.count,
    threshold: a.threshold,
    minutes: a.windowMinutes,
  });
}
