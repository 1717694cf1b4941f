/**
 * The insurer and the 受診券 of a record as IG resources:
 *
 * - JP_OrganizationInsurer_eCheckupGeneral when the record has a 保険者番号 (8 digits, 6 for 国民健康保険):
 *   identifier 保険者番号 (urn:oid:1.2.392.100495.20.3.61), type `ins`. The standard record has no insurer
 *   name, so none is written (the profile needs an identifier or a name, not both).
 * - JP_CoverageService_eCheckupGeneral when it also has a 受診券整理番号: status active, type 1 受診券
 *   (urn:oid:1.2.392.200119.6.208), subscriberId = the 受診券整理番号, beneficiary = the Patient, payor =
 *   the insurer.
 *
 * Not written: JP_CoverageInsurance_eCheckupGeneral (the insurance card). Its type (保険種別) and
 * relationship (本人/家族) are required and the standard record carries neither; the card's 記号・番号・枝番
 * are in Patient.identifier (JP_Insurance_memberID) instead.
 */
import type { FhirResource } from "./echeckup-bundle.js";
import { PROFILE, SYSTEM } from "./echeckup-systems.js";

export interface CoverageResources {
  readonly insurer?: FhirResource;
  readonly coverage?: FhirResource;
}

export function coverageResources(o: {
  readonly insurerNumber: string;
  readonly voucherNumber: string;
  readonly meta: (profile: string) => Record<string, unknown>;
  readonly patientUrl: string;
  readonly insurerUrl: string;
}): CoverageResources {
  if (!/^(\d{6}|\d{8})$/.test(o.insurerNumber)) return {};
  const insurer: FhirResource = {
    resourceType: "Organization",
    meta: o.meta(PROFILE.organizationInsurer),
    identifier: [{ system: SYSTEM.insurerNumber, value: o.insurerNumber }],
    type: [{ coding: [{ system: SYSTEM.organizationType, code: "ins" }] }],
  };
  if (o.voucherNumber === "") return { insurer };
  const coverage: FhirResource = {
    resourceType: "Coverage",
    meta: o.meta(PROFILE.coverageService),
    status: "active",
    type: { coding: [{ system: SYSTEM.ticketCategory, code: "1", display: "受診券" }] },
    subscriberId: o.voucherNumber,
    beneficiary: { reference: o.patientUrl },
    payor: [{ reference: o.insurerUrl }],
  };
  return { insurer, coverage };
}
