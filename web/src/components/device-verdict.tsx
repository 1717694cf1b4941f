/**
 * The re-checked device signature of an entry (src/client/device-signature-check.ts), as one line:
 * 検証済み with the device and the signing time, 検証失敗, or not re-checkable (an entry written before
 * what the signature covered was recorded). Used by the 検証 page's seal panel and the trail timeline.
 */
import type { DeviceSignatureCheck } from "../../../src/client/device-signature-check.js";
import { useI18n } from "../i18n.js";
import { useDates } from "../use-dates.js";

export function DeviceVerdict(props: { check: DeviceSignatureCheck; class: string; id?: string }) {
  const { t } = useI18n();
  const dates = useDates();
  const c = props.check;
  const device = `${(c.deviceId ?? "").slice(0, 8)}…`;
  return (
    <dd
      id={props.id}
      class={`${props.class} ${c.status === "verified" ? "verdict-ok" : c.status === "failed" ? "verdict-fail" : ""}`}
      data-status={c.status === "not-recheckable" ? "not-checked" : c.status}
    >
      {c.status === "verified"
        ? t("deviceSignatureOk", { device, time: dates.dateTime(c.signedAt ?? "") })
        : c.status === "failed"
          ? t("deviceSignatureFailed", { device })
          : t("timelineDeviceSigned")}
    </dd>
  );
}
