/**
 * 端末の登録: on first use of an ID in this browser, a non-extractable ECDSA P-256 key is made here,
 * kept in IndexedDB, and registered by a request signed with that very key. If the ID already has
 * another device, the service asks for confirmation (409 DEVICE_CONFIRMATION_REQUIRED): the dialog asks
 * the person; yes registers with confirmAdditional, no logs out. The service records the registration.
 */
import { useState } from "preact/hooks";
import { exportPublicJwk } from "../../../src/client/device-key.js";
import { apiErrorOf, type Api, type ApiError } from "../api.js";
import { ErrorAlert } from "../components/messages.js";
import { ModalDialog } from "../components/modal-dialog.js";
import { PageHeading } from "../components/page-heading.js";
import { createDevice, loadDevice } from "../device-store.js";
import { useI18n } from "../i18n.js";
import type { Device, SessionView } from "../types.js";
import { useDates } from "../use-dates.js";

export function DevicePage(props: {
  api: Api;
  session: SessionView;
  onRegistered: () => void;
  onDeclined: () => void;
}) {
  const { t } = useI18n();
  const dates = useDates();
  const [others, setOthers] = useState<readonly Device[]>([]);
  const [label, setLabel] = useState("ブラウザ");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string>();
  const [confirming, setConfirming] = useState(false);

  const register = async (confirmAdditional: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      let device;
      try {
        device =
          (await loadDevice(props.session.loginId)) ??
          (await createDevice(props.session.loginId, new Date()));
      } catch {
        setError(t("deviceNoStorage"));
        return;
      }
      props.api.device = { privateKey: device.keyPair.privateKey, deviceId: device.deviceId };
      await props.api.send("POST", "/api/v1/devices", {
        publicKey: await exportPublicJwk(device.keyPair.publicKey),
        label: label.trim() || "ブラウザ",
        confirmAdditional,
      });
      setConfirming(false);
      props.onRegistered();
    } catch (e) {
      const err = apiErrorOf(e);
      if (err.code === "DEVICE_CONFIRMATION_REQUIRED") {
        // Say which device already uses the ID, and since when, so the person can judge.
        const listed = await props.api
          .get<{ devices: Device[] }>("/api/v1/devices")
          .then((r) => r.devices)
          .catch(() => []);
        setOthers(listed);
        setConfirming(true);
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="narrow">
      <PageHeading text={t("deviceTitle")} />
      <p>{t("deviceIntro")}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void register(false);
        }}
      >
        <div class="field">
          <label for="device-label">{t("deviceLabel")}</label>
          <input
            id="device-label"
            maxLength={60}
            required
            aria-describedby="device-label-hint"
            value={label}
            onInput={(e) => {
              setLabel(e.currentTarget.value);
            }}
          />
          <p class="hint" id="device-label-hint">
            {t("deviceLabelHint")}
          </p>
        </div>
        <ErrorAlert error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("deviceBusy") : t("deviceRegister")}
        </button>
      </form>
      <ModalDialog
        open={confirming}
        title={t("deviceOtherTitle")}
        onCancel={() => {
          setConfirming(false);
          props.onDeclined();
        }}
      >
        <p>{t("deviceOtherText")}</p>
        {others.length > 0 ? (
          <>
            <p>{t("deviceOtherList")}</p>
            <ul id="registered-devices">
              {others.map((d) => (
                <li key={d.id}>
                  {t("deviceSince", { name: d.label, time: `${dates.dateTime(d.createdAt)} ${t("jst")}` })}
                </li>
              ))}
            </ul>
          </>
        ) : null}
        <p class="hint">{t("deviceOtherNote")}</p>
        <div class="buttons">
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => {
              void register(true);
            }}
          >
            {t("deviceOtherYes")}
          </button>
          <button
            type="button"
            onClick={() => {
              setConfirming(false);
              props.onDeclined();
            }}
          >
            {t("deviceOtherNo")}
          </button>
        </div>
      </ModalDialog>
    </main>
  );
}
