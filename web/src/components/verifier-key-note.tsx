/**
 * The pinned ledger verifier key's fingerprint (footer), and a loud warning when the service shows a
 * different key from the one pinned in this browser.
 */
import { useI18n } from "../i18n.js";
import type { PinState } from "../verifier-pin.js";

export function VerifierKeyWarning(props: { pin: PinState | undefined }) {
  const { t } = useI18n();
  if (props.pin?.status !== "changed") return null;
  return (
    <div class="key-warning" role="alert">
      <p>
        <strong>{t("vkeyChanged")}</strong>
      </p>
      <p>
        <code>{props.pin.fingerprint}</code> → <code>{props.pin.servedFingerprint}</code>
      </p>
    </div>
  );
}

export function VerifierKeyNote(props: { pin: PinState | undefined }) {
  const { t } = useI18n();
  const pin = props.pin;
  if (pin === undefined) return null;
  return (
    <div id="verifier-key" class="key-note">
      <p>
        {t("vkeyLabel")}:{" "}
        {pin.status === "unavailable" ? (
          t("vkeyUnavailable")
        ) : (
          <>
            {pin.key.name} (
            {pin.status === "changed"
              ? t("vkeyChanged")
              : pin.status === "pinned-now"
                ? t("vkeyPinnedNow")
                : t("vkeyPinned")}
            )
          </>
        )}
      </p>
      {pin.status === "unavailable" ? null : (
        <p>
          {t("vkeyCompare")} <code class="key-text">{pin.text}</code>
          <br />
          SHA-256: <code>{pin.fingerprint}</code>
        </p>
      )}
    </div>
  );
}
