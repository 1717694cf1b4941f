/**
 * One standard record → one FHIR R4 document Bundle following the JP eCheckup IG
 * (JP_Bundle_eCheckupGeneral): Composition first, then Patient, Practitioner, Organization (the
 * institution), the insurer Organization and the 受診券 Coverage where the record has them
 * (echeckup-coverage.ts), Encounter, and one Observation per filled item that has an item code — the
 * 特定健診 item code system urn:oid:1.2.392.200119.6.1005, or JLAC10 urn:oid:1.2.392.200119.4.504 for lab
 * codes outside the 特定健診 table — with UCUM units, the method where the code implies a known one
 * (echeckup-methods.ts), coded answers with their MHLW code system where the dictionary carries one, and
 * free text as valueString.
 *
 * Decisions (see README "FHIR eCheckup output"):
 * - Items without an item code (the examinee header, which goes into Patient/Encounter/Coverage, our
 *   own judgements, spare items …) cannot be Observations: the IG binds Observation.code (required) to
 *   those two code systems. They are left out of the Bundle and *listed* per record (`omitted`), never
 *   dropped silently; the export sums them up for the receiver.
 * - Composition.category / event / section codes follow the record's 健診種別 (echeckup-programs.ts).
 * - Reference ranges only where the institution's mapping gives its 基準値 (`referenceRanges`): the
 *   standard record carries none, and the MHLW 判定値 are not reference ranges.
 * - Names are written as text only (the IG allows it since v1.2.0), with full-width spaces turned into
 *   half-width ones (its kanji/kana-name constraint).
 * - Every fullUrl is a fresh urn:uuid for each export, never reused.
 */
import type { Dictionary, DictionaryItem } from "../../format/dictionary.js";
import { termCode } from "../../format/dictionary.js";
import { VALUE_JOINER } from "../../format/standard-csv.js";
import { findingSensitivity } from "../sensitive-findings.js";
import type { Coding } from "../resource-types.js";
import { bundleLabels, labels, permits, type Confidentiality } from "../security-labels.js";
import { coverageResources } from "./echeckup-coverage.js";
import { METHOD_BY_ITEM_CODE } from "./echeckup-methods.js";
import { checkupProgram } from "./echeckup-programs.js";
import {
  BUNDLE_IDENTIFIER_PATTERN,
  CODES_OUTSIDE_IG,
  GENERAL_JLAC10_CODES,
  PROFILE,
  SYSTEM,
  UCUM,
} from "./echeckup-systems.js";
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
  /** The institution's reference ranges (基準値) by item key, from the mapping that made the file. */
  readonly referenceRanges?: Readonly<Record<string, ReferenceRangeInput>> | undefined;
  /**
   * The reader's clearance (Z4): findings labelled above it are left out and listed as `restricted`.
   * Default R (the file's holder, e.g. the sender converting its own file).
   */
  readonly clearance?: Confidentiality | undefined;
}

export interface ReferenceRangeInput {
  readonly low?: number | undefined;
  readonly high?: number | undefined;
  readonly text?: string | undefined;
}

/** Observation.referenceRange in the value's unit (the IG requires the same unit code as the value). */
function referenceRange(item: DictionaryItem, range: ReferenceRangeInput): Record<string, unknown> {
  const unit = item.unit;
  const ucum = unit === undefined ? undefined : UCUM[unit];
  const q = (value: number) => ({
    value,
    ...(unit !== undefined ? { unit } : {}),
    ...(ucum !== undefined ? { system: SYSTEM.ucum, code: ucum } : {}),
  });
  return {
    referenceRange: [
      {
        ...(range.low !== undefined ? { low: q(range.low) } : {}),
        ...(range.high !== undefined ? { high: q(range.high) } : {}),
        ...(range.text !== undefined ? { text: range.text } : {}),
      },
    ],
  };
}

/** A filled item of the record that is not in the Bundle, and why. */
export interface OmittedItem {
  readonly key: string;
  readonly reason: "no-item-code" | "code-outside-ig" | "restricted";
}

export type BundleOutcome =
  | { readonly ok: true; readonly bundle: FhirResource; readonly omitted: readonly OmittedItem[] }
  | { readonly ok: false; readonly reason: string };

/** Items that become Patient, Encounter, Organization, Coverage or Composition elements, not Observations. */
const HEADER_ITEMS = new Set([
  "institution-number",
  "exam-date",
  "examinee-id",
  "name",
  "name-kana",
  "sex",
  "birth-date",
  "insurer-number",
  "insurance-symbol",
  "insurance-number",
  "insurance-branch",
  "voucher-number",
  "checkup-kind",
]);

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
  // B1: every resource carries one confidentiality label (checkup results: N, no reuse beyond the
  // commissioned purpose); a restricted finding's Observation is R (sensitive-findings.ts), and the
  // Composition (whose narrative lists the values) and the Bundle carry the highest they hold.
  const security = labels("N", ["NOREUSE"]);
  const clearance = ctx.clearance ?? "R";
  const meta = (profile: string, labelled: Coding[] = security) => ({
    lastUpdated: now,
    profile: [profile],
    security: labelled,
  });
  const url = () => `urn:uuid:${ctx.uuid()}`;
  const patientUrl = url();
  const practitionerUrl = url();
  const organizationUrl = url();
  const encounterUrl = url();
  const insurerUrl = url();
  const coverageUrl = url();
  const ref = (u: string) => ({ reference: u });

  const examineeId = record.value("examinee-id");
  const identifiers: Record<string, unknown>[] = [];
  if (examineeId !== "")
    identifiers.push({ system: `${SYSTEM.localPatientIdPrefix}${institution}`, value: examineeId });
  const insurerNumber = record.value("insurer-number");
  const symbol = record.value("insurance-symbol");
  const number = record.value("insurance-number");
  const branch = record.value("insurance-branch");
  if (/^\d{8}$/.test(insurerNumber) && symbol !== "" && number !== "" && /^\d{2}$/.test(branch)) {
    identifiers.push({
      system: SYSTEM.insuranceMemberId,
      value: `${insurerNumber}:${symbol}:${number}:${branch}`,
    });
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

  const { insurer, coverage } = coverageResources({
    insurerNumber,
    voucherNumber: record.value("voucher-number"),
    meta,
    patientUrl,
    insurerUrl,
  });

  const observations: {
    url: string;
    resource: FhirResource;
    item: DictionaryItem;
    value: string;
    security: Coding[];
  }[] = [];
  const omitted: OmittedItem[] = [];
  for (const item of record.filled) {
    if (item.jlac10 === undefined) {
      if (!HEADER_ITEMS.has(item.key)) omitted.push({ key: item.key, reason: "no-item-code" });
      continue;
    }
    if (CODES_OUTSIDE_IG[item.jlac10] !== undefined) {
      omitted.push({ key: item.key, reason: "code-outside-ig" });
      continue;
    }
    const sensitivity = findingSensitivity(item);
    const itemSecurity = labels(sensitivity.confidentiality, ["NOREUSE", ...sensitivity.acts]);
    // Z4: a finding above the reader's clearance is not handed out, and the reader is told so.
    if (!permits(clearance, itemSecurity)) {
      omitted.push({ key: item.key, reason: "restricted" });
      continue;
    }
    const value = record.value(item.key);
    const method = METHOD_BY_ITEM_CODE[item.jlac10];
    const codeSystem = GENERAL_JLAC10_CODES.has(item.jlac10) ? SYSTEM.jlac10 : SYSTEM.itemCode;
    const observed = observationValue(item, value);
    const range = ctx.referenceRanges?.[item.key];
    const valueAndRange =
      range !== undefined && "valueQuantity" in observed
        ? { ...observed, ...referenceRange(item, range) }
        : observed;
    observations.push({
      url: url(),
      item,
      value,
      security: itemSecurity,
      resource: {
        resourceType: "Observation",
        meta: meta(PROFILE.observation, itemSecurity),
        status: "final",
        category: [{ coding: [{ system: SYSTEM.observationCategory, code: category(item) }] }],
        code: {
          coding: [{ system: codeSystem, code: item.jlac10, display: item.name }],
          text: item.name,
        },
        subject: ref(patientUrl),
        encounter: ref(encounterUrl),
        effectiveDateTime: examDate,
        ...valueAndRange,
        ...(method
          ? {
              method: { coding: [{ system: SYSTEM.methodCode, code: method.code, display: method.display }] },
            }
          : {}),
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
  const program = checkupProgram(record.value("checkup-kind"));
  const sections = [
    ...(results.length > 0 ? [section(program.results.code, program.results.display, results)] : []),
    ...(questionnaire.length > 0
      ? [section(program.questionnaire.code, program.questionnaire.display, questionnaire)]
      : []),
  ];
  const cat = program.category;
  const compositionSecurity = bundleLabels([security, ...observations.map((o) => o.security)]);
  const composition: FhirResource = {
    resourceType: "Composition",
    meta: meta(PROFILE.composition, compositionSecurity),
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
    event: [
      {
        code: [
          {
            coding: [
              { system: SYSTEM.programService, code: program.event.code, display: program.event.display },
            ],
          },
        ],
        period: { start: examDate, end: examDate },
      },
    ],
    ...(sections.length > 0 ? { section: sections } : {}),
  };
  const bundle: FhirResource = {
    resourceType: "Bundle",
    // A Bundle is as confidential as its most confidential entry, with every caveat (B1).
    meta: { lastUpdated: now, profile: [PROFILE.bundle], security: compositionSecurity },
    identifier: { system: SYSTEM.bundleIdentifier, value: identifierValue },
    type: "document",
    timestamp: now,
    entry: [
      { fullUrl: url(), resource: composition },
      { fullUrl: patientUrl, resource: patient },
      { fullUrl: practitionerUrl, resource: practitioner },
      { fullUrl: organizationUrl, resource: organization },
      ...(insurer ? [{ fullUrl: insurerUrl, resource: insurer }] : []),
      { fullUrl: encounterUrl, resource: encounter },
      ...(coverage ? [{ fullUrl: coverageUrl, resource: coverage }] : []),
      ...observations.map((o) => ({ fullUrl: o.url, resource: o.resource })),
    ],
  };
  return { ok: true, bundle, omitted };
}
