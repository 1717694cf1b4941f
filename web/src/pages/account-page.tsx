/**
 * アカウント: what an institution's staff, who share one login ID, do with it on an ordinary day —
 * change the password when staff change (asked to confirm, then confirmed with the time), and see the
 * devices registered to the ID, rename one, or remove one no longer used (asked to confirm; the device
 * in use cannot remove itself).
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { ModalDialog } from "../components/modal-dialog.js";
import { PageHeading } from "../components/page-heading.js";
import { PasswordForm } from "../components/password-form.js";
import { useI18n } from "../i18n.js";
import type { Device } from "../types.js";
import { useDates } from "../use-dates.js";

export function AccountPage() {
  const { api } = useApp();
  const { t } = useI18n();
  const dates = useDates();
  const [devices, setDevices] = useState<readonly Device[]>();
  const [error, setError] = useState<ApiError | string>();
  const [done, setDone] = useState<string>();
  const [renaming, setRenaming] = useState<Device>();
  const [removing, setRemoving] = useState<Device>();
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const current = api.device?.deviceId;

  const load = useCallback(async (): Promise<void> => {
    try {
      setDevices((await api.get<{ devices: Device[] }>("/api/v1/devices")).devices);
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (f: () => Promise<string>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await f());
      await load();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
      setRenaming(undefined);
      setRemoving(undefined);
    }
  };
  const devicePath = (d: Device) => `/api/v1/devices/${encodeURIComponent(d.id)}`;

  return (
    <main id="main">
      <PageHeading text={t("accountTitle")} />
      <p>{t("accountIntro")}</p>
      <ErrorAlert error={error} id="account-error" />
      <StatusLine text={done} id="account-done" />

      <section aria-labelledby="password-heading" class="narrow-section">
        <h2 id="password-heading">{t("passwordTitle")}</h2>
        <p>{t("passwordVoluntary")}</p>
        <PasswordForm
          api={api}
          confirmFirst
          onChanged={(at) => {
            setError(undefined);
            setDone(t("passwordChangedAt", { time: `${dates.dateTime(at)} ${t("jst")}` }));
          }}
        />
      </section>

      <section aria-labelledby="devices-heading">
        <h2 id="devices-heading">{t("devicesHeading")}</h2>
        <p class="hint">{t("devicesIntro")}</p>
        {devices === undefined ? (
          <p role="status">{t("loading")}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <caption>{t("devicesHeading")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("colDeviceName")}</th>
                  <th scope="col">
                    {t("colDeviceSince")} <span class="zone">({t("jst")})</span>
                  </th>
                  <th scope="col">{t("colDeviceId")}</th>
                  <th scope="col">{t("colActions")}</th>
                </tr>
              </thead>
              <tbody>
                {devices.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      {d.label}
                      {d.id === current ? (
                        <>
                          {" "}
                          <strong class="tag">{t("thisDevice")}</strong>
                        </>
                      ) : null}
                    </th>
                    <td class="nowrap">{dates.dateTime(d.createdAt)}</td>
                    <td>
                      <code>{d.id.slice(0, 12)}…</code>
                    </td>
                    <td>
                      <div class="buttons compact" role="group" aria-label={d.label}>
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => {
                            setName(d.label);
                            setRenaming(d);
                          }}
                        >
                          {t("deviceRename")}
                        </button>
                        {d.id !== current ? (
                          <button
                            type="button"
                            class="danger"
                            disabled={busy}
                            onClick={() => {
                              setRemoving(d);
                            }}
                          >
                            {t("deviceRemove")}
                          </button>
                        ) : null}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <ModalDialog
        open={renaming !== undefined}
        title={t("deviceRenameTitle")}
        onCancel={() => {
          setRenaming(undefined);
        }}
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const d = renaming;
            if (d)
              void run(async () => {
                await api.send("POST", `${devicePath(d)}/label`, { label: name.trim() });
                return t("deviceRenamed", { name: name.trim() });
              });
          }}
        >
          <div class="field">
            <label for="device-new-name">{t("deviceNewName")}</label>
            <input
              id="device-new-name"
              required
              maxLength={60}
              value={name}
              onInput={(e) => {
                setName(e.currentTarget.value);
              }}
            />
          </div>
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              {t("deviceRenameYes")}
            </button>
            <button
              type="button"
              onClick={() => {
                setRenaming(undefined);
              }}
            >
              {t("cancel")}
            </button>
          </div>
        </form>
      </ModalDialog>
      <ModalDialog
        open={removing !== undefined}
        title={t("deviceRemoveTitle", { name: removing?.label ?? "" })}
        onCancel={() => {
          setRemoving(undefined);
        }}
      >
        <p>{t("deviceRemoveText")}</p>
        <div class="buttons">
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => {
              const d = removing;
              if (d)
                void run(async () => {
                  await api.send("DELETE", devicePath(d));
                  return t("deviceRemoved", { name: d.label });
                });
            }}
          >
            {t("deviceRemoveYes")}
          </button>
          <button
            type="button"
            onClick={() => {
              setRemoving(undefined);
            }}
          >
            {t("cancel")}
          </button>
        </div>
      </ModalDialog>
    </main>
  );
}
