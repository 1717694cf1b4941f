/**
 * FHIR OperationOutcome: the body of every error answer (API and FHIR endpoint alike), carrying our
 * error code in `details.coding` and a Japanese text; never a stack trace, never request data. The HTTP
 * status of each code is chosen in `server/http-errors.ts`; the resource is built here.
 * http://hl7.org/fhir/R4/operationoutcome.html
 */
import type { Meta } from "./resource-types.js";
import { labels } from "./security-labels.js";
import { SYSTEM } from "./systems.js";

/** http://hl7.org/fhir/R4/valueset-issue-type.html (the ones we answer with). */
export type IssueType =
  | "security"
  | "login"
  | "forbidden"
  | "invalid"
  | "not-found"
  | "not-supported"
  | "conflict"
  | "too-long"
  | "exception"
  | "business-rule"
  | "throttled"
  | "value"
  | "informational";

/** An extension on an issue (facts a UI needs besides the text; see server/http-errors.ts). */
export interface OutcomeExtension {
  readonly url: string;
  readonly valueInteger?: number;
  readonly valueInstant?: string;
}

export interface OperationOutcome {
  readonly resourceType: "OperationOutcome";
  readonly meta: Meta;
  readonly issue: readonly {
    readonly severity: "error" | "information";
    readonly code: IssueType;
    readonly extension?: readonly OutcomeExtension[];
    readonly details: {
      readonly coding: readonly { readonly system: string; readonly code: string }[];
      readonly text: string;
    };
    /** FHIRPath of the offending element, for refused FHIR input. */
    readonly expression?: readonly string[];
  }[];
}

/** The code system of our error codes in `details.coding`. */
export const ERROR_CODE_SYSTEM = SYSTEM.error;

/** One-issue OperationOutcome for an error code. */
export function operationOutcome(
  code: string,
  type: IssueType,
  text: string,
  expression?: readonly string[],
): OperationOutcome {
  return {
    resourceType: "OperationOutcome",
    // An error answer holds no personal data: unrestricted.
    meta: { security: labels("U") },
    issue: [
      {
        severity: "error",
        code: type,
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text },
        ...(expression !== undefined && expression.length > 0 ? { expression } : {}),
      },
    ],
  };
}

/** A one-issue OperationOutcome reporting success (e.g. a signature that verified). */
export function informationOutcome(code: string, text: string): OperationOutcome {
  return {
    resourceType: "OperationOutcome",
    meta: { security: labels("U") },
    issue: [
      {
        severity: "information",
        code: "informational",
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text },
      },
    ],
  };
}
