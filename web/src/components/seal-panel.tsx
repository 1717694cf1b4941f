/**
 * The result of the in-browser seal check (seal-check.ts): the signature over the file and the RFC 3161
 * time stamp, each marked 検証済み / 検証失敗, with the signer and the stamped time; and the sender's
 * device signature on the 送信確定, re-checked, with the device and its signing time.
 */
import type { DeviceSignatureCheck } from "../../../src/client/device-signature-check.js";
import { useI18n } from "../i18n.js";
import { DeviceVerdict } from "./device-verdict.js";
import type { SealCheck } from "../seal-check.js";
import type { TrustPinState } from "../signing-trust-pin.js";
import { useDates } from "../use-dates.js";

export type SealState =
  | { readonly kind: "checking" }
  | { readonly kind: "none" }
  | {
      readonly kind: "checked";
      readonly check: SealCheck;
      readonly trust: TrustPinState["status"];
      /** The sender's device signature on the transfer's send entry, re-checked in this browser. */
      readonly device?: DeviceSignatureCheck;
    };

export function SealPanel(props: { state: SealState }) {
  const { t } = useI18n();
  const dates = useDates();
  const s = props.state;
  return (
    <section id="seal-check" aria-labelledby="seal-heading" class="seal-check">
      <h3 id="seal-heading">{t("sealHeading")}</h3>
      {s.kind === "checking" ? <p>{t("sealChecking")}</p> : null}
      {s.kind === "none" ? <p id="seal-none">{t("sealNone")}</p> : null}
      {s.kind === "checked" ? (
        <>
          {s.trust === "changed" ? <p class="warning">{t("sealTrustChanged")}</p> : null}
          {s.trust === "unavailable" ? <p class="warning">{t("sealTrustUnavailable")}</p> : null}
          <p
            id="seal-signature"
            data-status={s.check.signature}
            class={
              s.check.signature === "failed"
                ? "verdict verdict-fail"
                : s.check.signature === "verified"
                  ? "verdict verdict-ok"
                  : "verdict"
            }
          >
            {s.check.signature === "verified"
              ? t("sealSignatureOk", { signer: s.check.signer ?? "" })
              : s.check.signature === "failed"
                ? t("sealSignatureFailed")
                : t("sealSignatureNotChecked")}
          </p>
          <p
            id="seal-stamp"
            data-status={s.check.stamp}
            class={s.check.stamp === "verified" ? "verdict verdict-ok" : "verdict verdict-fail"}
          >
            {s.check.stamp === "verified"
              ? t("sealStampOk", {
                  time: dates.dateTime(s.check.stampTime ?? ""),
                  tsa: s.check.tsa ?? "",
                })
              : t("sealStampFailed")}
          </p>
          {s.device !== undefined && s.device.status !== "none" ? (
            <dl class="seal-device">
              <dt>{t("sealDeviceLabel")}</dt>
              <DeviceVerdict check={s.device} class="verdict" id="seal-device" />
            </dl>
          ) : null}
          {s.check.why !== undefined ? (
            <p class="hint">
              <code>{s.check.why}</code>
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
