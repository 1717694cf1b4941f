/**
 * One standard record → one FHIR R4 document Bundle following the JP eCheckup IG
 * (JP_Bundle_eCheckupGeneral): Composition first, then Patient, Practitioner, Organization,
 * Encounter and one Observation per filled item that has a JLAC10 item code (system
 * urn:oid:1.2.392.200119.6.1005), with UCUM units, coded answers with their MHLW code system where the
 * dictionary carries one, and free text as valueString.
 *
 * Decisions (see README "FHIR eCheckup output"):
 * - Items without a JLAC10 code (our own judgements, spare items …) are not written: the IG's
 *   observation codes are the 特定健診 item codes.
 * - Composition.category is 10 (特定健診等) with event 010 for 特定健康診査 records; other checkup kinds
 *   get category 41 (事業者健診: 定期・雇入時・特殊) or 99 (その他) and no event, because the program
 *   service codes for them are not in the sources we have.
 * - Names are written as text only (the IG allows it since v1.2.0), with full-width spaces turned into
 *   half-width ones (its kanji/kana-name constraint).
 * - Every fullUrl is a fresh urn:uuid for each export, never reused.
 */
import type { Dictionary, DictionaryItem } from "../../format/dictionary.js";
import { termCode } from "../../format/dictionary.js";
import { VALUE_JOINER } from "../../format/standard-csv.js";
import { PROFILE, SYSTEM, UCUM, BUNDLE_IDENTIFIER_PATTERN } from "./echeckup-systems.js";
import type { StandardRecordView } from "./standard-records.js";

export type FhirResource = { resourceType: string } & Record<string, unknown>;

export interface BundleContext {
  readonly dictionary: Dictionary;
  /** Time of this export (Bundle.timestamp, meta.lastUpdated, Composition.date). */
  readonly now: Date;
  /** A fresh UUID (v4) per call. */
  readonly uuid: () => string;
  /** The institution's name as registered in the service, for Organization.name. */
  readonly institutionName?: string | undefined;
}

export type BundleOutcome =
  { readonly ok: true; readonly bundle: FhirResource } | { readonly ok: false; readonly reason: string };

const BODY = new Set(["height", "weight", "bmi", "waist", "visceral-fat-area"]);
const VITAL = /^(sbp|dbp)-|^pulse$/;

function category(item: DictionaryItem): string {
  const code = item.jlac10 ?? "";
  if (BODY.has(item.key)) return "body-measurement";
  if (VITAL.test(item.key)) return "vital-signs";
  if (/^9N[78]/.test(code)) return "social-history";
  if (/^9N50[16]/.test(code)) return "survey";
  if (/^[1-8]/.test(code)) return "laboratory";
  return "exam";
}

function ymdToDate(ymd: string): string | undefined {
  return /^\d{8}$/.test(ymd) ? `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}` : undefined;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

function personName(text: string, representation: "IDE" | "SYL"): Record<string, unknown> {
  return {
    extension: [{ url: SYSTEM.nameRepresentation, valueCode: representation }],
    use: "official",
    text: text.replace(/\u3000/g, " "),
  };
}

/** The Observation value of one item's standard value. */
function observationValue(item: DictionaryItem, value: string): Record<string, unknown> {
  switch (item.type) {
    case "number": {
      const m = /^(<=|>=|<|>)?(-?\d+(?:\.\d+)?)$/.exec(value);
      if (!m) return { valueString: value };
      const unit = item.unit;
      const ucum = unit === undefined ? undefined : UCUM[unit];
      return {
        valueQuantity: {
          value: Number(m[2]),
          ...(m[1] ? { comparator: m[1] } : {}),
          ...(unit !== undefined ? { unit } : {}),
          ...(ucum !== undefined ? { system: SYSTEM.ucum, code: ucum } : {}),
        },
      };
    }
    case "code": {
      const coded = termCode(item, value);
      return {
        valueCodeableConcept: {
          ...(coded ? { coding: [{ system: coded.system, code: coded.code, display: value }] } : {}),
          text: value,
        },
      };
    }
    case "date": {
      const d = ymdToDate(value);
      return d === undefined ? { valueString: value } : { valueDateTime: d };
    }
    case "text":
      return { valueString: value };
  }
}

function reportCategory(kind: string): { code: string; display: string } {
  if (kind === "" || kind === "特定健康診査") return { code: "10", display: "特定健診等" };
  if (kind === "定期健康診断" || kind === "雇入時健康診断" || kind === "特殊健康診断") {
    return { code: "41", display: "事業者健診" };
  }
  return { code: "99", display: "その他" };
}

export function recordToBundle(record: StandardRecordView, ctx: BundleContext): BundleOutcome {
  const institution = record.value("institution-number");
  const examDate = ymdToDate(record.value("exam-date"));
  if (examDate === undefined) return { ok: false, reason: "実施日がありません" };
  const reportId = ctx.uuid();
  const identifierValue = `${institution}^${examDate.slice(0, 4)}^${reportId}`;
  if (!BUNDLE_IDENTIFIER_PATTERN.test(identifierValue)) {
    return { ok: false, reason: "健診機関番号が IG の Bundle.identifier の形式に合いません" };
  }
  const now = ctx.now.toISOString();
  const meta = (profile: string) => ({ lastUpdated: now, profile: [profile] });
  const url = () => `urn:uuid:${ctx.uuid()}`;
  const patientUrl = url();
  const practitionerUrl = url();
  const organizationUrl = url();
  const encounterUrl = url();
  const ref = (u: string) => ({ reference: u });

  const examineeId = record.value("examinee-id");
  const identifiers: Record<string, unknown>[] = [];
  if (examineeId !== "")
    identifiers.push({ system: `${SYSTEM.localPatientIdPrefix}${institution}`, value: examineeId });
  const insurer = record.value("insurer-number");
  const symbol = record.value("insurance-symbol");
  const number = record.value("insurance-number");
  const branch = record.value("insurance-branch");
  if (/^\d{8}$/.test(insurer) && symbol !== "" && number !== "" && /^\d{2}$/.test(branch)) {
    identifiers.push({ system: SYSTEM.insuranceMemberId, value: `${insurer}:${symbol}:${number}:${branch}` });
  }
  const names: Record<string, unknown>[] = [];
  if (record.value("name") !== "") names.push(personName(record.value("name"), "IDE"));
  if (record.value("name-kana") !== "") names.push(personName(record.value("name-kana"), "SYL"));
  const sex = record.value("sex");
  const birthDate = ymdToDate(record.value("birth-date"));
  const patient: FhirResource = {
    resourceType: "Patient",
    meta: meta(PROFILE.patient),
    ...(identifiers.length > 0 ? { identifier: identifiers } : {}),
    ...(names.length > 0 ? { name: names } : {}),
    ...(sex === "男性" ? { gender: "male" } : sex === "女性" ? { gender: "female" } : {}),
    ...(birthDate !== undefined ? { birthDate } : {}),
  };
  const doctor = record.value("doctor-name");
  const practitioner: FhirResource = {
    resourceType: "Practitioner",
    meta: meta(PROFILE.practitioner),
    ...(doctor !== "" ? { name: [personName(doctor, "IDE")] } : {}),
  };
  const organization: FhirResource = {
    resourceType: "Organization",
    meta: meta(PROFILE.organization),
    identifier: [{ system: SYSTEM.institutionNumber, value: institution }],
    type: [{ coding: [{ system: SYSTEM.organizationType, code: "prov" }] }],
    name: ctx.institutionName ?? `健診機関 ${institution}`,
  };
  const encounter: FhirResource = {
    resourceType: "Encounter",
    meta: meta(PROFILE.encounter),
    status: "finished",
    class: { system: SYSTEM.encounterClass, code: "checkup", display: "健診" },
    subject: ref(patientUrl),
    period: { start: examDate, end: examDate },
    serviceProvider: ref(organizationUrl),
  };

  const observations: { url: string; resource: FhirResource; item: DictionaryItem; value: string }[] = [];
  for (const item of record.filled) {
    if (item.jlac10 === undefined) continue;
    const value = record.value(item.key);
    observations.push({
      url: url(),
      item,
      value,
      resource: {
        resourceType: "Observation",
        meta: meta(PROFILE.observation),
        status: "final",
        category: [{ coding: [{ system: SYSTEM.observationCategory, code: category(item) }] }],
        code: {
          coding: [{ system: SYSTEM.itemCode, code: item.jlac10, display: item.name }],
          text: item.name,
        },
        subject: ref(patientUrl),
        encounter: ref(encounterUrl),
        effectiveDateTime: examDate,
        ...observationValue(item, value),
      },
    });
  }
  const section = (code: string, display: string, list: typeof observations) => ({
    title: display,
    code: { coding: [{ system: SYSTEM.sectionCode, code, display }] },
    text: {
      status: "generated",
      div: `<div xmlns="http://www.w3.org/1999/xhtml"><ul>${list
        .map(
          (o) =>
            `<li>${escapeXml(o.item.name)}: ${escapeXml(o.value.split(VALUE_JOINER).join("、"))}${o.item.type === "number" && o.item.unit ? ` ${escapeXml(o.item.unit)}` : ""}</li>`,
        )
        .join("")}</ul></div>`,
    },
    entry: list.map((o) => ref(o.url)),
  });
  const questionnaire = observations.filter((o) => category(o.item) === "social-history");
  const results = observations.filter((o) => category(o.item) !== "social-history");
  const sections = [
    ...(results.length > 0 ? [section("01011", "特定健診検査結果セクション", results)] : []),
    ...(questionnaire.length > 0 ? [section("01012", "特定健診問診結果セクション", questionnaire)] : []),
  ];
  const kind = record.value("checkup-kind");
  const cat = reportCategory(kind);
  const composition: FhirResource = {
    resourceType: "Composition",
    meta: meta(PROFILE.composition),
    language: "ja",
    extension: [{ url: SYSTEM.versionNumber, valueString: "1" }],
    identifier: {
      system: SYSTEM.resourceInstance,
      value: `${institution}^${examDate.slice(0, 4)}^${reportId}`,
    },
    status: "final",
    type: { coding: [{ system: SYSTEM.docType, code: "53576-5", display: "検診・健診報告書" }] },
    category: [{ coding: [{ system: SYSTEM.reportCategory, code: cat.code, display: cat.display }] }],
    subject: ref(patientUrl),
    encounter: ref(encounterUrl),
    date: now,
    author: [ref(practitionerUrl), ref(organizationUrl)],
    title: "健康診断結果報告書",
    custodian: ref(organizationUrl),
    ...(cat.code === "10"
      ? {
          event: [
            {
              code: [{ coding: [{ system: SYSTEM.programService, code: "010", display: "特定健診" }] }],
              period: { start: examDate, end: examDate },
            },
          ],
        }
      : {}),
    ...(sections.length > 0 ? { section: sections } : {}),
  };
  const bundle: FhirResource = {
    resourceType: "Bundle",
    meta: { lastUpdated: now, profile: [PROFILE.bundle] },
    identifier: { system: SYSTEM.bundleIdentifier, value: identifierValue },
    type: "document",
    timestamp: now,
    entry: [
      { fullUrl: url(), resource: composition },
      { fullUrl: patientUrl, resource: patient },
      { fullUrl: practitionerUrl, resource: practitioner },
      { fullUrl: organizationUrl, resource: organization },
      { fullUrl: encounterUrl, resource: encounter },
      ...observations.map((o) => ({ fullUrl: o.url, resource: o.resource })),
    ],
  };
  return { ok: true, bundle };
}
