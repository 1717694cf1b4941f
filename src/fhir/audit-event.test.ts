import { describe, expect, it } from "vitest";
import { expectValidFhir, fhirErrors } from "../../test/support/fhir-validator.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { sampleCommon, sampleRecords } from "../../test/support/sample-records.js";
import { auditEventOf } from "./audit-event.js";
import { confidentialityOf } from "./security-labels.js";
import { DCM, SYSTEM } from "./systems.js";

const h = (c: string) => c.repeat(64);
const common = sampleCommon;

const ref = (record: OperationRecord, index = 7) => ({
  index,
  leafHash: h("e"),
  record,
  origin: "localhost/kenshin-exchange/node-1",
});

describe("auditEventOf", () => {
  it("every kind of entry gives an AuditEvent with 0 errors against the FHIR R4 definitions", () => {
    for (const record of sampleRecords()) expectValidFhir(auditEventOf(ref(record)));
  });

  it("the validator is real: a malformed instant, a missing agent and sev-1 are errors", () => {
    const event = auditEventOf(ref(sampleRecords()[0] as OperationRecord));
    expect(fhirErrors({ ...event, recorded: "yesterday" }).length).toBeGreaterThan(0);
    expect(fhirErrors({ ...event, agent: [] }).length).toBeGreaterThan(0);
    expect(fhirErrors({ ...event, entity: [{ name: "x", query: "eA==" }] }).length).toBeGreaterThan(0); // sev-1
  });

  it("login failure: 110114 / 110122 / E with outcome 8 and the user's address and certificate", () => {
    const failed = sampleRecords().find(
      (r) => r.type === "login" && r.outcome !== "success",
    ) as OperationRecord;
    const e = auditEventOf(ref(failed));
    expect([e.type.system, e.type.code, e.subtype?.[0]?.code, e.action, e.outcome]).toEqual([
      DCM,
      "110114",
      "110122",
      "E",
      "8",
    ]);
    const user = e.agent[0];
    expect(user?.who.identifier).toEqual({ system: SYSTEM.loginId, value: "s-0001" });
    expect(user?.network).toEqual({ address: "127.0.0.1", type: "2" });
    expect(user?.altId).toContain(h("c"));
    expect(user?.requestor).toBe(true);
    expect(confidentialityOf(e.meta.security)).toBe("R");
  });

  it("download: Export / disclose / R, user as Destination, node as Source, file lifecycle Export", () => {
    const e = auditEventOf(ref(sampleRecords()[3] as OperationRecord));
    expect([e.type.code, e.subtype?.[0]?.code, e.action]).toEqual(["110106", "disclose", "R"]);
    expect(e.agent[0]?.role?.[0]?.coding?.[0]?.code).toBe("110152");
    expect(e.agent.at(-1)?.type?.coding?.[0]?.code).toBe("110153");
    const file = e.entity?.find((x) => x.what?.identifier?.system === SYSTEM.fileSha256);
    expect(file?.lifecycle?.code).toBe("10");
    expect(confidentialityOf(e.meta.security)).toBe("N");
  });

  it("carries the ledger index and leaf hash, and the request ID as BALP XrequestId", () => {
    const e = auditEventOf(ref(sampleRecords()[0] as OperationRecord, 42));
    const ledger = e.entity?.find((x) => x.what?.identifier?.system === SYSTEM.ledgerEntry);
    expect(ledger?.what?.identifier?.value).toBe("42");
    expect(ledger?.detail).toContainEqual({ type: "leafHash", valueString: h("e") });
    expect(e.id).toBe(h("e"));
    expect(
      e.entity?.some((x) => x.type?.code === "XrequestId" && x.what?.identifier?.value === "req-1"),
    ).toBe(true);
  });

  it("audit-log query: 110101 with the query base64 in a role-24 entity", () => {
    const e = auditEventOf(ref(sampleRecords()[10] as OperationRecord));
    expect(e.type.code).toBe("110101");
    const q = e.entity?.find((x) => x.role?.code === "24");
    expect(Buffer.from(q?.query ?? "", "base64").toString()).toBe("fhir AuditEvent?_count=10");
  });

  it("a time-out logout has the node as requestor", () => {
    const e = auditEventOf(ref(sampleRecords()[9] as OperationRecord));
    expect(e.agent[0]?.requestor).toBe(false);
    expect(e.agent.at(-1)?.requestor).toBe(true);
  });

  it("narrative values are escaped", () => {
    const r = {
      ...common,
      type: "login" as const,
      method: "password" as const,
      actor: { ...common.actor, id: "<script>x</script>" },
    };
    const e = auditEventOf(ref(r));
    expect(e.text?.div).not.toContain("<script>");
    expect(e.text?.div).toContain("&lt;script&gt;");
    expectValidFhir(e);
  });
});
