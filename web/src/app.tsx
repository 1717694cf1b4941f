/**
 * The application shell: session start-up, the gates every user passes in order (login → device
 * registration → forced password change), then the pages of the signed-in role. The verifier key is
 * checked against the pin at start-up.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Api, type ApiError } from "./api.js";
import { AppContext, type AppState } from "./app-context.js";
import { Link } from "./components/link.js";
import { SiteHeader } from "./components/site-header.js";
import { VerifierKeyNote, VerifierKeyWarning } from "./components/verifier-key-note.js";
import { loadDevice } from "./device-store.js";
import {
  I18nContext,
  saveLang,
  savedLang,
  savedWareki,
  saveWareki,
  translate,
  type Lang,
  type MessageKey,
} from "./i18n.js";
import { AccountPage } from "./pages/account-page.js";
import { AdminAuditPage } from "./pages/admin-audit-page.js";
import { HelpPage } from "./pages/help-page.js";
import { StatusLine } from "./components/messages.js";
import { AdminCertificatesPage } from "./pages/admin-certificates-page.js";
import { AdminInstitutionsPage } from "./pages/admin-institutions-page.js";
import { AdminMappingsPage } from "./pages/admin-mappings-page.js";
import { AdminMonitoringPage } from "./pages/admin-monitoring-page.js";
import { DevicePage } from "./pages/device-page.js";
import { LoginPage } from "./pages/login-page.js";
import { NotFoundPage } from "./pages/not-found-page.js";
import { PasswordPage } from "./pages/password-page.js";
import { SendPage } from "./pages/send-page.js";
import { TransferPage } from "./pages/transfer-page.js";
import { TransfersPage } from "./pages/transfers-page.js";
import { VerifyPage } from "./pages/verify-page.js";
import { useNewArrivals } from "./new-arrivals.js";
import { navigate, usePath } from "./router.js";
import type { Role, SessionView } from "./types.js";
import { checkVerifierKey, type PinState } from "./verifier-pin.js";

type Stage =
  | { readonly kind: "loading" }
  | { readonly kind: "login"; readonly notice?: MessageKey }
  | { readonly kind: "device" | "password" | "ready"; readonly session: SessionView };

const GATE_PATHS = { login: "/login", device: "/device", password: "/password" } as const;

function homeOf(role: Role): string {
  return role === "sender" ? "/send" : role === "receiver" ? "/transfers" : "/admin";
}

function pageFor(path: string, role: Role) {
  const transfer = /^\/transfers\/(tr_[a-z2-7]{16})$/.exec(path)?.[1];
  if (path === "/account") return <AccountPage />;
  if (path === "/help") return <HelpPage />;
  if (role === "admin") {
    if (path === "/admin") return <AdminInstitutionsPage />;
    if (path === "/admin/audit") return <AdminAuditPage />;
    if (path === "/admin/certificates") return <AdminCertificatesPage />;
    if (path === "/admin/monitoring") return <AdminMonitoringPage />;
    if (path === "/admin/mappings") return <AdminMappingsPage />;
    return <NotFoundPage home={homeOf(role)} />;
  }
  if (path === "/send" && role === "sender") return <SendPage />;
  if (path === "/transfers") return <TransfersPage />;
  if (transfer !== undefined) return <TransferPage id={transfer} />;
  if (path === "/verify") return <VerifyPage />;
  return <NotFoundPage home={homeOf(role)} />;
}

export function App() {
  const [lang, setLangState] = useState<Lang>(savedLang);
  const [wareki, setWarekiState] = useState<boolean>(savedWareki);
  /** A confirmation shown once above the next page (e.g. after the forced password change). */
  const [flash, setFlash] = useState<MessageKey>();
  const [stage, setStage] = useState<Stage>({ kind: "loading" });
  const [pin, setPin] = useState<PinState>();
  const path = usePath();

  const onAuthProblem = useCallback((error: ApiError) => {
    setStage((s) => {
      if (s.kind === "login" || s.kind === "loading") return s;
      if (error.code === "AUTH_PASSWORD_CHANGE_REQUIRED") return { kind: "password", session: s.session };
      if (error.code === "DEVICE_NOT_REGISTERED") return { kind: "device", session: s.session };
      return { kind: "login", notice: "sessionExpired" };
    });
  }, []);
  const api = useMemo(() => new Api({ onAuthProblem }), [onAuthProblem]);

  /** Decides the gate after login (or on start-up with a live session). */
  const enter = useCallback(
    async (session: SessionView): Promise<void> => {
      api.csrfToken = session.csrfToken;
      const device = await loadDevice(session.loginId).catch(() => undefined);
      api.device = device && { privateKey: device.keyPair.privateKey, deviceId: device.deviceId };
      let registered = false;
      if (device) {
        const { devices } = await api.get<{ devices: { id: string }[] }>("/api/v1/devices");
        registered = devices.some((d) => d.id === device.deviceId);
      }
      if (!registered) setStage({ kind: "device", session });
      else if (session.mustChangePassword) setStage({ kind: "password", session });
      else setStage({ kind: "ready", session });
    },
    [api],
  );

  const refreshSession = useCallback(async (): Promise<void> => {
    try {
      await enter(await api.get<SessionView>("/api/v1/session", { reportAuth: false }));
    } catch {
      setStage({ kind: "login" });
    }
  }, [api, enter]);

  useEffect(() => {
    void refreshSession();
    void checkVerifierKey(api, new Date()).then(setPin);
  }, [api, refreshSession]);

  // Keep the address bar in step with the gate, and leave gate pages once through.
  useEffect(() => {
    if (stage.kind === "loading") return;
    // Help is open to everyone, also before login (how else would a locked-out clerk find the office?).
    if (stage.kind !== "ready") {
      if (!(stage.kind === "login" && path === "/help")) navigate(GATE_PATHS[stage.kind], { replace: true });
    } else if (path === "/" || Object.values(GATE_PATHS).some((p) => p === path))
      navigate(homeOf(stage.session.role), { replace: true });
  }, [stage, path]);

  const logout = useCallback(
    async (notice: MessageKey): Promise<void> => {
      try {
        await api.send("DELETE", "/api/v1/session", undefined, { sign: false, reportAuth: false });
      } catch {
        // Already gone (expired): the result is the same.
      }
      api.csrfToken = undefined;
      api.device = undefined;
      setStage({ kind: "login", notice });
    },
    [api],
  );

  const i18n = useMemo(
    () => ({
      lang,
      t: (key: MessageKey, vars?: Readonly<Record<string, string | number>>) => translate(lang, key, vars),
      setLang: (l: Lang) => {
        saveLang(l);
        setLangState(l);
      },
      wareki,
      setWareki: (on: boolean) => {
        saveWareki(on);
        setWarekiState(on);
      },
    }),
    [lang, wareki],
  );
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const session = stage.kind === "ready" ? stage.session : undefined;
  const newArrivals = useNewArrivals(api, session, path);
  const state: AppState | undefined = session && pin ? { api, session, pin } : undefined;

  let body;
  if (stage.kind === "loading" || (stage.kind === "ready" && !state)) {
    body = (
      <main id="main" aria-busy="true">
        <p role="status">{translate(lang, "loading")}</p>
      </main>
    );
  } else if (stage.kind === "login" && path === "/help") {
    body = <HelpPage />;
  } else if (stage.kind === "login") {
    body = (
      <LoginPage
        api={api}
        notice={stage.notice}
        onLoggedIn={(s) => {
          void enter(s);
        }}
      />
    );
  } else if (stage.kind === "device") {
    body = (
      <DevicePage
        api={api}
        session={stage.session}
        onRegistered={() => {
          void refreshSession();
        }}
        onDeclined={() => {
          void logout("loggedOut");
        }}
      />
    );
  } else if (stage.kind === "password") {
    body = (
      <PasswordPage
        api={api}
        forced={stage.session.mustChangePassword}
        onChanged={() => {
          setFlash("passwordChanged");
          void refreshSession();
        }}
      />
    );
  } else if (state) {
    body = <AppContext.Provider value={state}>{pageFor(path, state.session.role)}</AppContext.Provider>;
  }
  // A flash belongs to the first page it was shown above; moving on to another page clears it.
  const flashPath = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (flash === undefined || stage.kind !== "ready") return;
    if (path === "/" || Object.values(GATE_PATHS).some((p) => p === path)) return;
    if (flashPath.current === undefined) flashPath.current = path;
    else if (flashPath.current !== path) {
      flashPath.current = undefined;
      setFlash(undefined);
    }
  }, [flash, stage, path]);

  return (
    <I18nContext.Provider value={i18n}>
      <SiteHeader
        session={session}
        path={path}
        newArrivals={newArrivals}
        onLogout={() => {
          void logout("loggedOut");
        }}
      />
      <VerifierKeyWarning pin={pin} />
      {flash !== undefined && stage.kind === "ready" ? (
        <div class="flash">
          <StatusLine text={translate(lang, flash)} id="flash" />
        </div>
      ) : null}
      {body}
      <footer class="site-footer">
        <VerifierKeyNote pin={pin} />
        <p>
          <Link href="/help">{translate(lang, "navHelp")}</Link>
        </p>
      </footer>
    </I18nContext.Provider>
  );
}
