/**
 * Profile URLs and code systems of the JP eCheckup IG (健診結果報告FHIR記述仕様, JAMI / 日本HL7協会,
 * v1.3.1 2024-11; security-requirements.md §7 and the IG's example bundle and change log), spelled once.
 */

export const ECHECKUP_IG_VERSION = "1.3.1";

export const PROFILE = {
  bundle: "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eCheckupGeneral",
  patient: "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCheckupGeneral",
  composition: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Composition_eCheckupGeneral",
  observation: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Observation_eCheckupGeneral",
  encounter: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Encounter_eCheckupGeneral",
  organization: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Organization_eCheckupGeneral",
  practitioner: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_Practitioner_eCheckupGeneral",
  organizationInsurer:
    "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_OrganizationInsurer_eCheckupGeneral",
  coverageService: "http://jpfhir.jp/fhir/eCheckup/StructureDefinition/JP_CoverageService_eCheckupGeneral",
} as const;

export const SYSTEM = {
  bundleIdentifier: "http://jpfhir.jp/fhir/clins/bundle-identifier",
  resourceInstance: "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier",
  docType: "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes",
  /** 報告区分 (v1.2.1: unified to the 特定健診 OID). */
  reportCategory: "urn:oid:1.2.392.200119.6.1001",
  /** 健診プログラムサービスコード. */
  programService: "urn:oid:1.2.392.200119.6.1002",
  sectionCode: "http://jpfhir.jp/fhir/eCheckup/CodeSystem/section-code",
  /** 特定健診 item codes (JLAC10 and JLAC10-style). */
  itemCode: "urn:oid:1.2.392.200119.6.1005",
  /** JLAC10 itself, for lab codes outside the 特定健診 item table (the IG's observation-code value set has both). */
  jlac10: "urn:oid:1.2.392.200119.4.504",
  /** 特定健診検査方法コード. */
  methodCode: "urn:oid:1.2.392.200119.6.1007",
  /** 保険者番号. */
  insurerNumber: "urn:oid:1.2.392.100495.20.3.61",
  /** 券種 (1 受診券, 2 利用券). */
  ticketCategory: "urn:oid:1.2.392.200119.6.208",
  observationCategory: "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS",
  encounterClass: "http://jpfhir.jp/fhir/eCheckup/CodeSystem/encounter-category",
  institutionNumber: "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no",
  organizationType: "http://terminology.hl7.org/CodeSystem/organization-type",
  insuranceMemberId: "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID",
  /** Patient ID issued by an institution: this prefix + the 10-digit institution number. */
  localPatientIdPrefix: "urn:oid:1.2.392.200119.6.102.1",
  nameRepresentation: "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
  versionNumber: "http://hl7.org/fhir/StructureDefinition/composition-clinicaldocument-versionNumber",
  ucum: "http://unitsofmeasure.org",
} as const;

/**
 * Lab items whose JLAC10 code is not in the 特定健診 item table (the IG's CodeSystem
 * urn:oid:1.2.392.200119.6.1005 does not list them): written with the JLAC10 system instead.
 */
export const GENERAL_JLAC10_CODES: ReadonlySet<string> = new Set([
  "3C025000002327101", // 尿素窒素
  "3B010000002327101", // CK
  "3B160000002327101", // アミラーゼ
]);

/**
 * Item codes that neither the IG's 特定健診 item table nor JLAC10 has (so no Observation can carry them
 * within the IG's required binding): the item is left out of the Bundle and listed, with this reason.
 */
export const CODES_OUTSIDE_IG: Readonly<Record<string, string>> = {
  "9N806000000000011": "第3期の問診コードで、IG (v1.3.1 以降) の特定健診項目コード表にありません",
};

/** Bundle.identifier.value: institution number ^ year ^ report ID (IG constraint). */
export const BUNDLE_IDENTIFIER_PATTERN = /^[0-4][0-9][1-3][0-9]{7}\^20[2-3][0-9]\^[A-Za-z0-9-]{1,36}$/;

/** The dictionary's units → UCUM codes (display keeps the dictionary's unit). */
export const UCUM: Readonly<Record<string, string>> = {
  cm: "cm",
  kg: "kg",
  "kg/m2": "kg/m2",
  cm2: "cm2",
  "%": "%",
  mmHg: "mm[Hg]",
  "/min": "/min",
  "mg/dL": "mg/dL",
  "g/dL": "g/dL",
  "U/L": "U/L",
  "10^4/μL": "10*4/uL",
  "/μL": "/uL",
  "mL/min/1.73m2": "mL/min/{1.73_m2}",
  "mEq/L": "meq/L",
  fL: "fL",
  pg: "pg",
  "ng/mL": "ng/mL",
  "U/mL": "U/mL",
  L: "L",
  歳: "a",
};
