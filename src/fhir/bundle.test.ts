import { describe, expect, it } from "vitest";
import { expectValidFhir } from "../../test/support/fhir-validator.js";
import { sampleRecords } from "../../test/support/sample-records.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { auditEventOf } from "./audit-event.js";
import { searchsetBundle } from "./bundle.js";
import { capabilityStatement } from "./capability-statement.js";
import { operationOutcome } from "./operation-outcome.js";
import { bundleLabels, confidentialityOf, labels } from "./security-labels.js";
import { CONFIDENTIALITY } from "./systems.js";

const base = "https://127.0.0.1:8443/fhir";
const events = sampleRecords().map((record: OperationRecord, index) =>
  auditEventOf({ index, leafHash: index.toString(16).padStart(64, "0"), record, origin: "o" }),
);

describe("searchset Bundle, CapabilityStatement, OperationOutcome", () => {
  it("a searchset Bundle of AuditEvents with paging links validates, and carries its highest label", () => {
    const bundle = searchsetBundle({
      base,
      resources: events,
      links: [
        { relation: "self", url: `${base}/AuditEvent?_count=50` },
        { relation: "next", url: `${base}/AuditEvent?_count=50&_before=3` },
      ],
      timestamp: "2026-12-01T09:00:00.000Z",
    });
    expectValidFhir(bundle);
    // Some entries are R (failures), the rest N: the Bundle is R.
    expect(new Set(events.map((e) => confidentialityOf(e.meta.security)))).toEqual(new Set(["N", "R"]));
    expect(confidentialityOf(bundle.meta.security)).toBe("R");
    expect(bundle.entry?.[0]?.fullUrl).toBe(`${base}/AuditEvent/${events[0]?.id ?? ""}`);
  });

  it("an empty searchset validates and is U", () => {
    const bundle = searchsetBundle({
      base,
      resources: [],
      links: [{ relation: "self", url: `${base}/AuditEvent` }],
      timestamp: "2026-12-01T09:00:00.000Z",
      total: 0,
    });
    expectValidFhir(bundle);
    expect(confidentialityOf(bundle.meta.security)).toBe("U");
  });

  it("bundleLabels keeps exactly one confidentiality code and every other label once", () => {
    const merged = bundleLabels([labels("N", ["NOREUSE"]), labels("R", ["NOREUSE", "HTEST"]), labels("L")]);
    expect(merged.filter((c) => c.system === CONFIDENTIALITY)).toHaveLength(1);
    expect(merged.map((c) => c.code)).toEqual(["R", "HTEST", "NOREUSE"]);
    expect(() => confidentialityOf([...labels("N"), ...labels("R")])).toThrow();
  });

  it("the CapabilityStatement and an OperationOutcome validate", () => {
    const cs = capabilityStatement({ base, date: "2026-12-01T09:00:00.000Z", softwareVersion: "0.1.0" });
    expectValidFhir(cs);
    expect(JSON.stringify(cs)).toContain("Certificates");
    expectValidFhir(operationOutcome("NOT_FOUND", "not-found", "見つかりません"));
    expectValidFhir(operationOutcome("FHIR_INPUT_UNSAFE", "security", "x", ["Bundle.text.div"]));
    // B1: each carries exactly one confidentiality code (U: they hold no patient data).
    expect(confidentialityOf(cs.meta.security)).toBe("U");
    expect(confidentialityOf(operationOutcome("NOT_FOUND", "not-found", "x").meta.security)).toBe("U");
  });
});
