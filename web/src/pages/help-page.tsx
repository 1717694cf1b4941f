/**
 * ヘルプ・お問い合わせ: whom to call (the office) and for what, and the answers to the questions a
 * working day raises. Open before login too: a locked-out clerk must be able to find it.
 */
import { PageHeading } from "../components/page-heading.js";
import { useI18n, type MessageKey } from "../i18n.js";

const FAQ: readonly (readonly [MessageKey, MessageKey])[] = [
  ["helpQ1", "helpA1"],
  ["helpQ2", "helpA2"],
  ["helpQ3", "helpA3"],
  ["helpQ4", "helpA4"],
];

export function HelpPage() {
  const { t } = useI18n();
  return (
    <main id="main" class="narrow">
      <PageHeading text={t("helpTitle")} />
      <section aria-labelledby="help-contact">
        <h2 id="help-contact">{t("helpContactHeading")}</h2>
        <p>{t("helpContact")}</p>
      </section>
      <section aria-labelledby="help-faq">
        <h2 id="help-faq">{t("helpFaqHeading")}</h2>
        <dl class="faq">
          {FAQ.map(([q, a]) => (
            <div key={q}>
              <dt>{t(q)}</dt>
              <dd>{t(a)}</dd>
            </div>
          ))}
        </dl>
        <p class="hint">{t("helpTimes")}</p>
      </section>
    </main>
  );
}
