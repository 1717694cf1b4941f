/**
 * Security labels (B1, Z4): every emitted resource carries exactly one confidentiality code from
 * v3-Confidentiality and the sensitivity / handling codes that fit; a Bundle carries the highest
 * confidentiality of its entries and the union of their other labels.
 * http://hl7.org/fhir/R4/security-labels.html
 *
 * What this service labels how (documented in the README, "FHIR and audit"):
 * - CapabilityStatement, OperationOutcome: U (no personal data, no identifiers of people).
 * - AuditEvent: N, and R for the security events (failed or refused logins, lock-outs, denials, tamper
 *   alarms, monitoring alerts), whose disclosure would help an attacker; every AuditEvent also carries
 *   the handling caveat NOREUSE (audit data is used for audit only).
 * - Provenance of a standard file: N (checkup results, the proposed default) plus NOREUSE.
 * - eCheckup resources (results): N plus NOREUSE; an Observation of a restricted finding — infectious
 *   or psychiatric, the rule is in sensitive-findings.ts — is R with its sensitivity code (HIV, STD,
 *   PSY) where one fits; the Composition, whose section narrative lists the values, and the Bundle
 *   carry the highest of what they hold.
 *
 * Labels in access decisions (Z4): each role is cleared up to one confidentiality level
 * ({@link ROLE_CLEARANCE}), and every FHIR read path (AuditEvent search and read, Provenance search,
 * the per-patient events) hands out only resources whose confidentiality is within the reader's
 * clearance ({@link permits}) — on top of the party rules, never instead of them. A resource above the
 * clearance answers exactly as a missing one (404 / absent from the Bundle). Parties (sender, receiver
 * staff) are cleared for N: they do not see the R-labelled security events (failed logins, lock-outs,
 * refusals, tamper alarms, alerts); the office, which investigates them, is cleared for R. Nobody is
 * cleared for V. Restricted findings (R) reach only a receiver the configuration clears for them
 * (`restrictedFindings.clearedReceivers`, by institution number — e.g. where the examinees' consent is
 * on file; {@link resultClearance}); to any other receiver the eCheckup download leaves them out and
 * lists them as withheld ("restricted"), never silently. Labels are carried forward: a Bundle carries its entries' highest level and every
 * caveat, and the resources a client downloads keep their `meta.security`.
 */
import type { Coding } from "./resource-types.js";
import { ACT_CODE, CONFIDENTIALITY } from "./systems.js";

/** v3-Confidentiality, lowest first. */
export const CONFIDENTIALITY_ORDER = ["U", "L", "M", "N", "R", "V"] as const;
export type Confidentiality = (typeof CONFIDENTIALITY_ORDER)[number];

const DISPLAY: Readonly<Record<Confidentiality, string>> = {
  U: "unrestricted",
  L: "low",
  M: "moderate",
  N: "normal",
  R: "restricted",
  V: "very restricted",
};

/** v3-ActCode handling caveats and sensitivity codes we use. */
export type ActCodeLabel = "NOREUSE" | "HTEST" | "HIV" | "STD" | "PSY";

const ACT_DISPLAY: Readonly<Record<ActCodeLabel, string>> = {
  NOREUSE: "no reuse beyond purpose of use",
  HTEST: "test health data",
  HIV: "HIV/AIDS information sensitivity",
  STD: "sexually transmitted disease information sensitivity",
  PSY: "psychiatry disorder information sensitivity",
};

/** `meta.security` with one confidentiality code and the given ActCode labels. */
export function labels(confidentiality: Confidentiality, acts: readonly ActCodeLabel[] = []): Coding[] {
  return [
    { system: CONFIDENTIALITY, code: confidentiality, display: DISPLAY[confidentiality] },
    ...[...new Set(acts)].sort().map((code) => ({ system: ACT_CODE, code, display: ACT_DISPLAY[code] })),
  ];
}

/** The confidentiality code of a label list (exactly one is required). */
export function confidentialityOf(security: readonly Coding[]): Confidentiality {
  const found = security.filter((c) => c.system === CONFIDENTIALITY);
  const code = found[0]?.code;
  if (found.length !== 1 || !CONFIDENTIALITY_ORDER.includes(code as Confidentiality)) {
    throw new Error(`expected exactly one confidentiality label, got ${found.length}`);
  }
  return code as Confidentiality;
}

/**
 * The labels of a Bundle of these entries: the highest confidentiality (U for an empty Bundle) and the
 * union of the other labels, so a receiver keeps every caveat.
 */
export function bundleLabels(entries: readonly (readonly Coding[])[]): Coding[] {
  let highest: Confidentiality = "U";
  const others = new Map<string, Coding>();
  for (const security of entries) {
    const c = confidentialityOf(security);
    if (CONFIDENTIALITY_ORDER.indexOf(c) > CONFIDENTIALITY_ORDER.indexOf(highest)) highest = c;
    for (const coding of security) {
      if (coding.system !== CONFIDENTIALITY) others.set(`${coding.system}|${coding.code}`, coding);
    }
  }
  return [
    labels(highest)[0] as Coding,
    ...[...others.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)),
  ];
}

/** Z4: the highest confidentiality each role may read. */
export const ROLE_CLEARANCE: Readonly<Record<"sender" | "receiver" | "admin", Confidentiality>> = {
  sender: "N",
  receiver: "N",
  admin: "R",
};

/** The levels a clearance admits, lowest first. */
export function levelsUpTo(clearance: Confidentiality): Confidentiality[] {
  return CONFIDENTIALITY_ORDER.slice(0, CONFIDENTIALITY_ORDER.indexOf(clearance) + 1);
}

/** Whether a reader cleared for `clearance` may see a resource with these labels (Z4). */
export function permits(clearance: Confidentiality, security: readonly Coding[]): boolean {
  return (
    CONFIDENTIALITY_ORDER.indexOf(confidentialityOf(security)) <= CONFIDENTIALITY_ORDER.indexOf(clearance)
  );
}

/**
 * Z4 for result data: the clearance of a receiver for the findings it downloads — R when the
 * configuration lists its institution number among `clearedReceivers`, N otherwise (an employer, for
 * instance, may not obtain infection test results without the examinee's consent).
 */
export function resultClearance(
  receiverNumber: string | null | undefined,
  clearedReceivers: readonly string[],
): Confidentiality {
  return receiverNumber !== null && receiverNumber !== undefined && clearedReceivers.includes(receiverNumber)
    ? "R"
    : "N";
}
