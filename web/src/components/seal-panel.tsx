/**
 * The result of the in-browser seal check (seal-check.ts): the signature over the file and the RFC 3161
 * time stamp, each marked 検証済み / 検証失敗, with the signer and the stamped time.
 */
import { useI18n } from "../i18n.js";
import type { SealCheck } from "../seal-check.js";
import type { TrustPinState } from "../signing-trust-pin.js";
import { useDates } from "../use-dates.js";

export type SealState =
  | { readonly kind: "checking" }
  | { readonly kind: "none" }
  | { readonly kind: "checked"; readonly check: SealCheck; readonly trust: TrustPinState["status"] };

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
