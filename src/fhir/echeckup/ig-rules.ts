/**
 * The JP eCheckup IG's rules for the elements we fill, checked on every Bundle we write (the FHIR R4
 * base rules are checked in tests by a maintained validator; these are the IG's own, from
 * security-requirements.md §7, the IG's profiles (FSH) and change log up to v1.3.1):
 *
 * - Bundle: type document; meta.profile JP_Bundle_eCheckupGeneral; meta.lastUpdated; identifier with
 *   the bundle-identifier system and the value pattern; timestamp with milliseconds and a time zone;
 *   entry[0] Composition; Patient 1, Encounter 1, Organization 1..*, Practitioner 1..*; every fullUrl a
 *   unique urn:uuid; every reference resolves inside the Bundle.
 * - Every resource: meta.lastUpdated 1..1 and its eCheckup profile.
 * - Composition: versionNumber extension 1..1; identifier system resourceInstance-identifier; status
 *   final; type 53576-5 (doc-typecodes); category 1..1 with coding 1..1 from the 報告区分 system;
 *   event 1..1 with code 1..1 from 健診プログラムサービスコード (urn:oid:1.2.392.200119.6.1002) for every
 *   report (the IG's Composition profile makes event 1..1, not only for 特定健診);
 *   subject, encounter, date, author, custodian; sections coded with section-code, each with narrative.
 * - Observation: code.coding from urn:oid:1.2.392.200119.6.1005 or JLAC10 (urn:oid:1.2.392.200119.4.504,
 *   the IG's observation-code value set) with a JLAC10-shaped code; method, when present, from
 *   urn:oid:1.2.392.200119.6.1007; category
 *   from JP_SimpleObservationCategory_CS; subject = the Patient; effectiveDateTime; exactly one
 *   value[x]; hasMember, basedOn, partOf absent; a Quantity's system is UCUM; referenceRange 0..1, its
 *   low/high in the value's unit.
 * - Organization (insurer, JP_OrganizationInsurer_eCheckupGeneral): identifier 保険者番号
 *   (urn:oid:1.2.392.100495.20.3.61), type `ins`. Coverage (JP_CoverageService_eCheckupGeneral) 0..2:
 *   status active, type 1 (urn:oid:1.2.392.200119.6.208), subscriberId, beneficiary = the Patient,
 *   payor = an insurer Organization in the Bundle.
 *
 * Returns the problems found (empty when the Bundle meets them all).
 */
import { BUNDLE_IDENTIFIER_PATTERN, PROFILE, SYSTEM } from "./echeckup-systems.js";

type Json = Record<string, unknown>;

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

const PROFILES_OF: Record<string, readonly string[]> = {
  Composition: [PROFILE.composition],
  Patient: [PROFILE.patient],
  Practitioner: [PROFILE.practitioner],
  Organization: [PROFILE.organization, PROFILE.organizationInsurer],
  Encounter: [PROFILE.encounter],
  Observation: [PROFILE.observation],
  Coverage: [PROFILE.coverageService],
};
const OBSERVATION_CATEGORIES = new Set([
  "body-measurement",
  "vital-signs",
  "laboratory",
  "exam",
  "survey",
  "social-history",
]);
const VALUE_KEYS = ["valueQuantity", "valueCodeableConcept", "valueString", "valueDateTime"];
const UUID_URN = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function codings(concept: unknown): Json[] {
  return arr(obj(concept)?.["coding"])
    .map(obj)
    .filter((c): c is Json => c !== undefined);
}

function references(value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) references(v, out);
    return;
  }
  const o = obj(value);
  if (!o) return;
  for (const [k, v] of Object.entries(o)) {
    if (k === "reference" && typeof v === "string") out.push(v);
    else references(v, out);
  }
}

export function checkEcheckupBundle(bundle: unknown): string[] {
  const problems: string[] = [];
  const fail = (what: string): void => {
    problems.push(what);
  };
  const b = obj(bundle);
  if (!b || b["resourceType"] !== "Bundle") return ["Bundle ではありません"];
  if (b["type"] !== "document") fail("Bundle.type は document");
  const bMeta = obj(b["meta"]);
  if (!arr(bMeta?.["profile"]).includes(PROFILE.bundle)) fail("Bundle.meta.profile");
  if (str(bMeta?.["lastUpdated"]) === undefined) fail("Bundle.meta.lastUpdated 1..1");
  const id = obj(b["identifier"]);
  if (id?.["system"] !== SYSTEM.bundleIdentifier) fail("Bundle.identifier.system");
  if (!BUNDLE_IDENTIFIER_PATTERN.test(str(id?.["value"]) ?? "")) fail("Bundle.identifier.value の形式");
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$/.test(str(b["timestamp"]) ?? "")) {
    fail("Bundle.timestamp (ミリ秒とタイムゾーン付き)");
  }
  const entries = arr(b["entry"])
    .map(obj)
    .filter((e): e is Json => e !== undefined);
  const urls = new Set<string>();
  const byType = new Map<string, Json[]>();
  const urlOf = new Map<Json, string>();
  for (const e of entries) {
    const url = str(e["fullUrl"]) ?? "";
    if (!UUID_URN.test(url)) fail(`fullUrl は urn:uuid (${url})`);
    if (urls.has(url)) fail(`fullUrl が重複 (${url})`);
    urls.add(url);
    const r = obj(e["resource"]);
    if (!r) {
      fail("entry.resource がありません");
      continue;
    }
    const type = str(r["resourceType"]) ?? "";
    byType.set(type, [...(byType.get(type) ?? []), r]);
    urlOf.set(r, url);
    const meta = obj(r["meta"]);
    if (str(meta?.["lastUpdated"]) === undefined) fail(`${type}.meta.lastUpdated 1..1`);
    const profiles = PROFILES_OF[type];
    if (profiles === undefined) fail(`この Bundle に入れない resourceType (${type})`);
    else if (!arr(meta?.["profile"]).some((p) => profiles.includes(str(p) ?? "")))
      fail(`${type}.meta.profile`);
  }
  if (obj(entries[0]?.["resource"])?.["resourceType"] !== "Composition") fail("entry[0] は Composition");
  const count = (t: string) => byType.get(t)?.length ?? 0;
  if (count("Composition") !== 1) fail("Composition 1..1");
  if (count("Patient") !== 1) fail("Patient 1..1");
  if (count("Encounter") !== 1) fail("Encounter 1..1");
  const hasProfile = (r: Json, p: string) => arr(obj(r["meta"])?.["profile"]).includes(p);
  const institutions = (byType.get("Organization") ?? []).filter((o) => hasProfile(o, PROFILE.organization));
  const insurers = (byType.get("Organization") ?? []).filter((o) =>
    hasProfile(o, PROFILE.organizationInsurer),
  );
  if (institutions.length < 1 || institutions.length > 4) fail("Organization (健診機関) 1..4");
  if (count("Coverage") > 2) fail("Coverage 0..2");
  if (count("Practitioner") < 1) fail("Practitioner 1..*");
  const refs: string[] = [];
  references(
    entries.map((e) => e["resource"]),
    refs,
  );
  for (const r of refs) if (!urls.has(r)) fail(`参照先が Bundle 内にありません (${r})`);

  const patient = byType.get("Patient")?.[0];
  const patientUrl = patient ? urlOf.get(patient) : undefined;
  const c = byType.get("Composition")?.[0];
  if (c) {
    const ext = arr(c["extension"])
      .map(obj)
      .filter((e) => e?.["url"] === SYSTEM.versionNumber);
    if (ext.length !== 1 || str(ext[0]?.["valueString"]) === undefined)
      fail("Composition versionNumber 拡張 1..1");
    if (obj(c["identifier"])?.["system"] !== SYSTEM.resourceInstance) fail("Composition.identifier.system");
    if (c["status"] !== "final") fail("Composition.status は final");
    const type = codings(c["type"]);
    if (
      type.length !== 1 ||
      type.at(0)?.["system"] !== SYSTEM.docType ||
      type.at(0)?.["code"] !== "53576-5"
    ) {
      fail("Composition.type は 53576-5");
    }
    const cats = arr(c["category"]);
    const catCoding = codings(cats[0]);
    if (cats.length !== 1 || catCoding.length !== 1 || catCoding[0]?.["system"] !== SYSTEM.reportCategory) {
      fail("Composition.category 1..1 (報告区分)");
    }
    const events = arr(c["event"]).map(obj);
    const codes = arr(events[0]?.["code"]);
    const ev = codings(codes[0]);
    if (
      events.length !== 1 ||
      codes.length !== 1 ||
      ev.length !== 1 ||
      ev.at(0)?.["system"] !== SYSTEM.programService ||
      !/^\d{3}$/.test(str(ev.at(0)?.["code"]) ?? "")
    ) {
      fail("Composition.event 1..1 (健診プログラムサービスコード)");
    }
    if (catCoding[0]?.["code"] === "10" && ev[0]?.["code"] !== "010")
      fail("特定健診 (報告区分 10) の event は 010");
    for (const k of ["subject", "encounter", "date", "custodian"])
      if (c[k] === undefined) fail(`Composition.${k} 1..1`);
    if (arr(c["author"]).length < 1) fail("Composition.author 1..*");
    if (obj(c["subject"])?.["reference"] !== patientUrl) fail("Composition.subject は Patient");
    for (const s of arr(c["section"]).map(obj)) {
      const sc = codings(s?.["code"]);
      if (sc.length !== 1 || sc[0]?.["system"] !== SYSTEM.sectionCode)
        fail("section.code (section-code) 1..1");
      if (!str(obj(s?.["text"])?.["div"])?.startsWith('<div xmlns="http://www.w3.org/1999/xhtml">')) {
        fail("section.text (narrative)");
      }
    }
  }
  for (const o of byType.get("Observation") ?? []) {
    const code = codings(o["code"]);
    if (
      code.length < 1 ||
      (code[0]?.["system"] !== SYSTEM.itemCode && code[0]?.["system"] !== SYSTEM.jlac10) ||
      !/^[0-9A-Z]{17}$/.test(str(code.at(0)?.["code"]) ?? "")
    ) {
      fail("Observation.code (1.2.392.200119.6.1005 または JLAC10)");
    }
    if (o["method"] !== undefined) {
      const m = codings(o["method"]);
      if (
        m.length !== 1 ||
        m.at(0)?.["system"] !== SYSTEM.methodCode ||
        !/^[0-9A-Z]{10}$/.test(str(m.at(0)?.["code"]) ?? "")
      )
        fail("Observation.method (1.2.392.200119.6.1007)");
    }
    const cat = codings(arr(o["category"])[0]);
    if (
      cat[0]?.["system"] !== SYSTEM.observationCategory ||
      !OBSERVATION_CATEGORIES.has(str(cat.at(0)?.["code"]) ?? "")
    ) {
      fail("Observation.category");
    }
    if (obj(o["subject"])?.["reference"] !== patientUrl) fail("Observation.subject は Patient");
    if (str(o["effectiveDateTime"]) === undefined) fail("Observation.effectiveDateTime 1..1");
    if (VALUE_KEYS.filter((k) => o[k] !== undefined).length !== 1) fail("Observation.value[x] 1..1");
    for (const k of ["hasMember", "basedOn", "partOf"]) if (o[k] !== undefined) fail(`Observation.${k} 0..0`);
    const q = obj(o["valueQuantity"]);
    if (q && q["code"] !== undefined && q["system"] !== SYSTEM.ucum)
      fail("Observation.valueQuantity.system は UCUM");
    const ranges = arr(o["referenceRange"]).map(obj);
    if (ranges.length > 1) fail("Observation.referenceRange 0..1");
    for (const end of ["low", "high"]) {
      const r = obj(ranges[0]?.[end]);
      if (r && (q === undefined || r["code"] !== q["code"]))
        fail(`Observation.referenceRange.${end} は値と同じ単位`);
    }
  }
  const insurerUrls = new Set(insurers.map((r) => urlOf.get(r)));
  for (const org of insurers) {
    const ids = arr(org["identifier"]).map(obj);
    if (
      ids.length !== 1 ||
      ids.at(0)?.["system"] !== SYSTEM.insurerNumber ||
      !/^(\d{6}|\d{8})$/.test(str(ids.at(0)?.["value"]) ?? "")
    )
      fail("保険者 Organization.identifier (保険者番号)");
    if (codings(arr(org["type"])[0])[0]?.["code"] !== "ins") fail("保険者 Organization.type は ins");
  }
  for (const cov of byType.get("Coverage") ?? []) {
    if (cov["status"] !== "active") fail("Coverage.status は active");
    const t = codings(cov["type"]);
    if (t.length !== 1 || t.at(0)?.["system"] !== SYSTEM.ticketCategory || t.at(0)?.["code"] !== "1")
      fail("Coverage.type は 受診券 (1)");
    if (str(cov["subscriberId"]) === undefined) fail("Coverage.subscriberId 1..1");
    if (obj(cov["beneficiary"])?.["reference"] !== patientUrl) fail("Coverage.beneficiary は Patient");
    const payors = arr(cov["payor"]).map(obj);
    if (payors.length !== 1 || !insurerUrls.has(str(payors[0]?.["reference"])))
      fail("Coverage.payor は保険者 1..1");
  }
  return problems;
}
