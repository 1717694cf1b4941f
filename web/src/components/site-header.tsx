/**
 * The header on every page: the service name, the menu for the signed-in role, the language switch
 * and logout. The language button is always there, also before login.
 */
import { useI18n, type MessageKey } from "../i18n.js";
import type { Role, SessionView } from "../types.js";
import { Link } from "./link.js";

const MENUS: Readonly<Record<Role, readonly (readonly [string, MessageKey])[]>> = {
  sender: [
    ["/send", "navSend"],
    ["/transfers", "navTransfers"],
    ["/verify", "navVerify"],
    ["/account", "navAccount"],
  ],
  receiver: [
    ["/transfers", "navTransfers"],
    ["/verify", "navVerify"],
    ["/account", "navAccount"],
  ],
  admin: [
    ["/admin", "navAdminInstitutions"],
    ["/admin/certificates", "navAdminCertificates"],
    ["/admin/monitoring", "navAdminMonitoring"],
    ["/admin/mappings", "navAdminMappings"],
    ["/admin/audit", "navAdminAudit"],
    ["/account", "navAccount"],
  ],
};

export function SiteHeader(props: {
  session: SessionView | undefined;
  path: string;
  /** New arrivals not yet downloaded (receivers), shown next to 一覧. */
  newArrivals: number;
  onLogout: () => void;
}) {
  const { t, lang, setLang, wareki, setWareki } = useI18n();
  const s = props.session;
  return (
    <header class="site-header">
      <a class="skip" href="#main">
        {t("skipToMain")}
      </a>
      <p class="site-name">{t("appTitle")}</p>
      {s ? (
        <nav aria-label={t("mainNav")}>
          <ul>
            {MENUS[s.role].map(([href, key]) => (
              <li key={href}>
                <Link
                  href={href}
                  current={props.path === href || (href !== "/admin" && props.path.startsWith(`${href}/`))}
                >
                  {t(key)}
                  {key === "navTransfers" && props.newArrivals > 0 ? (
                    <span class="badge" id="new-arrivals">
                      {t("newArrivals", { n: props.newArrivals })}
                    </span>
                  ) : null}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      <div class="header-tools">
        {s ? (
          <span class="who">{t("signedInAs", { institution: s.institution.name, loginId: s.loginId })}</span>
        ) : null}
        <label class="wareki-toggle">
          <input
            type="checkbox"
            checked={wareki}
            onChange={(e) => {
              setWareki(e.currentTarget.checked);
            }}
          />{" "}
          {t("showWareki")}
        </label>
        <button
          type="button"
          lang={lang === "ja" ? "en" : "ja"}
          onClick={() => {
            setLang(lang === "ja" ? "en" : "ja");
          }}
        >
          {t("switchLanguage")}
        </button>
        {s ? (
          <button type="button" onClick={props.onLogout}>
            {t("logout")}
          </button>
        ) : null}
      </div>
    </header>
  );
}
