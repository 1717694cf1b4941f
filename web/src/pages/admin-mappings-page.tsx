/**
 * マッピングの編集 (office): pick a checkup institution, see every saved version, load one or upload /
 * paste a file, get inline validation in Japanese as you type (the server checks it; nothing is
 * saved), draft one from a sample (`map suggest`), test it on a sample (counts and issue codes only —
 * the office never sees values), compare with the active version, save it as a new version and
 * activate it. Saving and activating are ledger entries; every version is kept.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { toBase64 } from "../../../src/ledger/verify/encoding.js";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { formatDateTime } from "../format.js";
import { useI18n } from "../i18n.js";
import { lineDiff } from "../mapping-diff.js";
import type { Institution } from "../types.js";
import { mappingText, type MappingTextKey } from "./admin-mappings-texts.js";
import { DataTable } from "../components/data-table.js";

interface Version {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly createdAt: string;
  readonly active: boolean;
}

interface SampleSummary {
  readonly rowsIn: number;
  readonly recordsOut: number;
  readonly rowsRejected: number;
  readonly rowsIgnored: number;
  readonly issueCounts: Readonly<Record<string, { error: number; warning: number; info: number }>>;
}

type Check =
  | { readonly ok: true; readonly name: string; readonly items: number; readonly sample?: SampleSummary }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly where?: string };

const CHECK_DELAY_MS = 500;

export function AdminMappingsPage() {
  const { api } = useApp();
  const { lang } = useI18n();
  const m = (key: MappingTextKey, vars?: Record<string, string | number>) => mappingText(lang, key, vars);
  const [institutions, setInstitutions] = useState<readonly Institution[]>([]);
  const [institutionId, setInstitutionId] = useState("");
  const [versions, setVersions] = useState<readonly Version[]>([]);
  const [activeBody, setActiveBody] = useState<string | undefined>();
  const [text, setText] = useState("");
  const [check, setCheck] = useState<Check>();
  const [checking, setChecking] = useState(false);
  const [sample, setSample] = useState<File>();
  const [sampleRun, setSampleRun] = useState<SampleSummary>();
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    void (async () => {
      try {
        const r = await api.get<{ institutions: Institution[] }>("/api/v1/admin/institutions");
        setInstitutions(r.institutions.filter((i) => i.kind === "sender"));
      } catch (e) {
        setError(apiErrorOf(e));
      }
    })();
  }, [api]);

  const base = `/api/v1/admin/institutions/${encodeURIComponent(institutionId)}/mappings`;
  const loadVersions = useCallback(async (): Promise<void> => {
    if (institutionId === "") return;
    try {
      const r = await api.get<{ versions: Version[] }>(base);
      setVersions(r.versions);
      const active = r.versions.find((v) => v.active);
      setActiveBody(
        active === undefined
          ? undefined
          : (await api.get<{ version: { body: string } }>(`${base}/${encodeURIComponent(active.id)}`)).version
              .body,
      );
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api, base, institutionId]);
  useEffect(() => {
    void loadVersions();
  }, [loadVersions]);

  // Inline validation: the server checks the text a moment after typing stops.
  useEffect(() => {
    if (timer.current !== undefined) clearTimeout(timer.current);
    if (text.trim() === "") {
      setCheck(undefined);
      return;
    }
    timer.current = setTimeout(() => {
      setChecking(true);
      void api
        .send<{ check: Check }>("POST", "/api/v1/admin/mappings/check", { mapping: text })
        .then((r) => {
          setCheck(r.check);
        })
        .catch((e: unknown) => {
          setError(apiErrorOf(e));
        })
        .finally(() => {
          setChecking(false);
        });
    }, CHECK_DELAY_MS);
  }, [api, text]);

  const run = async (action: () => Promise<string | undefined>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await action());
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
    }
  };
  const sampleBase64 = async (): Promise<string | undefined> =>
    sample ? toBase64(new Uint8Array(await sample.arrayBuffer())) : undefined;

  const diff = lineDiff(activeBody ?? "", text);
  const issueRows = sampleRun ? Object.entries(sampleRun.issueCounts) : [];

  return (
    <main id="main">
      <PageHeading text={m("title")} />
      <ErrorAlert error={error} />
      <StatusLine text={done} />
      <div class="field">
        <label for="mapping-editor-institution">{m("institution")}</label>
        <select
          id="mapping-editor-institution"
          value={institutionId}
          onChange={(e) => {
            setInstitutionId(e.currentTarget.value);
          }}
        >
          <option value="">{m("choose")}</option>
          {institutions.map((i) => (
            <option key={i.id} value={i.id}>
              {i.name}
            </option>
          ))}
        </select>
      </div>

      {institutionId !== "" ? (
        <section aria-labelledby="mapping-versions-heading">
          <h2 id="mapping-versions-heading">{m("versions")}</h2>
          {versions.length === 0 ? (
            <p>{m("noVersions")}</p>
          ) : (
            <DataTable
              caption={m("versions")}
              columns={[m("colName"), m("colCreated"), m("colHash"), m("colState"), m("colActions")]}
            >
              {versions.map((v) => (
                <tr key={v.id}>
                  <th scope="row">{v.name}</th>
                  <td>{formatDateTime(v.createdAt, lang)}</td>
                  <td>
                    <code>{v.sha256.slice(0, 16)}…</code>
                  </td>
                  <td>{v.active ? m("active") : m("inactive")}</td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => {
                        void run(async () => {
                          const r = await api.get<{ version: { body: string } }>(
                            `${base}/${encodeURIComponent(v.id)}`,
                          );
                          setText(r.version.body);
                          return undefined;
                        });
                      }}
                    >
                      {m("open")}
                    </button>{" "}
                    {v.active ? null : (
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() => {
                          void run(async () => {
                            await api.send("POST", `${base}/${encodeURIComponent(v.id)}/activate`);
                            await loadVersions();
                            return m("activated");
                          });
                        }}
                      >
                        {m("activate")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
        </section>
      ) : null}

      <section aria-labelledby="mapping-edit-heading">
        <h2 id="mapping-edit-heading">{m("editHeading")}</h2>
        <div class="field">
          <label for="mapping-editor-file">{m("upload")}</label>
          <input
            id="mapping-editor-file"
            type="file"
            accept=".yaml,.yml,.json"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) void file.text().then(setText);
            }}
          />
        </div>
        <div class="field">
          <label for="mapping-editor-text">{m("editor")}</label>
          <textarea
            id="mapping-editor-text"
            rows={20}
            spellcheck={false}
            value={text}
            aria-invalid={check !== undefined && !check.ok}
            aria-describedby="mapping-editor-check"
            onInput={(e) => {
              setText(e.currentTarget.value);
            }}
          />
          <p
            id="mapping-editor-check"
            class={check?.ok === false ? "message error" : "hint"}
            aria-live="polite"
          >
            {checking
              ? m("checking")
              : check === undefined
                ? ""
                : check.ok
                  ? m("valid", { name: check.name, items: check.items })
                  : `${check.where !== undefined ? m("invalidAt", { where: check.where }) : ""}${check.message} (${check.code})`}
          </p>
        </div>
        <div class="field">
          <label for="mapping-editor-sample">{m("sample")}</label>
          <input
            id="mapping-editor-sample"
            type="file"
            aria-describedby="mapping-editor-sample-note"
            onChange={(e) => {
              setSample(e.currentTarget.files?.[0]);
            }}
          />
          <p class="hint" id="mapping-editor-sample-note">
            {m("sampleNote")}
          </p>
        </div>
        <p>
          <button
            type="button"
            disabled={busy || sample === undefined}
            onClick={() => {
              void run(async () => {
                const name = institutions.find((i) => i.id === institutionId)?.name ?? "下書き";
                const r = await api.send<{ draft: string }>("POST", "/api/v1/admin/mappings/suggest", {
                  sample: await sampleBase64(),
                  name,
                });
                setText(r.draft);
                return undefined;
              });
            }}
          >
            {m("suggest")}
          </button>{" "}
          <button
            type="button"
            disabled={busy || sample === undefined || text.trim() === ""}
            onClick={() => {
              void run(async () => {
                const r = await api.send<{ check: Check }>("POST", "/api/v1/admin/mappings/check", {
                  mapping: text,
                  sample: await sampleBase64(),
                });
                setCheck(r.check);
                setSampleRun(r.check.ok ? r.check.sample : undefined);
                return undefined;
              });
            }}
          >
            {m("test")}
          </button>
        </p>
        {sampleRun ? (
          <div class="table-wrap">
            <DataTable caption={m("sampleResult")} wrap={false}>
              <tr>
                <th scope="row">{m("rowsIn")}</th>
                <td>{sampleRun.rowsIn}</td>
              </tr>
              <tr>
                <th scope="row">{m("recordsOut")}</th>
                <td>{sampleRun.recordsOut}</td>
              </tr>
              <tr>
                <th scope="row">{m("rowsRejected")}</th>
                <td>{sampleRun.rowsRejected}</td>
              </tr>
              <tr>
                <th scope="row">{m("rowsIgnored")}</th>
                <td>{sampleRun.rowsIgnored}</td>
              </tr>
            </DataTable>
            {issueRows.length > 0 ? (
              <DataTable wrap={false} columns={[m("colCode"), m("colError"), m("colWarning"), m("colInfo")]}>
                {issueRows.map(([code, n]) => (
                  <tr key={code}>
                    <th scope="row">
                      <code>{code}</code>
                    </th>
                    <td>{n.error}</td>
                    <td>{n.warning}</td>
                    <td>{n.info}</td>
                  </tr>
                ))}
              </DataTable>
            ) : null}
          </div>
        ) : null}
      </section>

      {institutionId !== "" && text.trim() !== "" ? (
        <section aria-labelledby="mapping-diff-heading">
          <h2 id="mapping-diff-heading">{m("diff")}</h2>
          {activeBody === undefined ? <p>{m("noActive")}</p> : null}
          {diff === undefined ? (
            <p>{m("tooLong")}</p>
          ) : (
            <pre class="mapping-diff">
              {diff
                .filter((l, i, all) => l.kind !== "same" || all.length < 200)
                .map((l, i) => (
                  <span key={i} class={`diff-${l.kind}`}>
                    {l.kind === "added" ? "+ " : l.kind === "removed" ? "- " : "  "}
                    {l.text}
                    {"\n"}
                  </span>
                ))}
            </pre>
          )}
          <p>
            <button
              type="button"
              disabled={busy || check?.ok !== true}
              onClick={() => {
                void run(async () => {
                  await api.send("POST", base, { mapping: text, activate: false });
                  await loadVersions();
                  return m("saved");
                });
              }}
            >
              {m("save")}
            </button>{" "}
            <button
              type="button"
              class="primary"
              disabled={busy || check?.ok !== true}
              onClick={() => {
                void run(async () => {
                  await api.send("POST", base, { mapping: text, activate: true });
                  await loadVersions();
                  return m("saved");
                });
              }}
            >
              {m("saveActivate")}
            </button>
          </p>
        </section>
      ) : null}
    </main>
  );
}
