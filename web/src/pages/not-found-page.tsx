/** A path that is no page (or not one for this role). */
import { Link } from "../components/link.js";
import { PageHeading } from "../components/page-heading.js";
import { useI18n } from "../i18n.js";

export function NotFoundPage(props: { home: string }) {
  const { t } = useI18n();
  return (
    <main id="main">
      <PageHeading text={t("notFoundTitle")} />
      <p>
        <Link href={props.home}>{t("backHome")}</Link>
      </p>
    </main>
  );
}
