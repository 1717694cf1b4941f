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

  it("every kind of entry has the codes of the README's codes table (type / subtype / action / outcome / label)", () => {
    // The table written out here by hand, independently of audit-codes.ts: [type, subtypes, action].
    const transferOps: Record<string, [string, string, string]> = {
      upload: ["rest", "create", "C"],
      conversion: ["rest", "operation+convert", "E"],
      send: ["110106", "disclose", "U"],
      seal: ["rest", "create+seal", "C"],
      download: ["110106", "disclose", "R"],
      receipt: ["110107", "disclose", "C"],
      deletion: ["rest", "delete", "D"],
      "audit-query": ["110101", "search-type", "E"],
      repair: ["110113", "ledger-repair", "U"],
      alert: ["110113", "monitoring-alert", "E"],
      note: ["110100", "note", "E"],
    };
    const office: Record<string, [string, string, string]> = {
      "institution.create": ["110113", "110129", "C"],
      "institution.update": ["110113", "110129", "U"],
      "account.create": ["110113", "110137", "C"],
      "account.disable": ["110113", "110137", "U"],
      "account.enable": ["110113", "110137", "U"],
      "account.unlock": ["110113", "110137", "U"],
      "password.reset": ["110113", "110137", "U"],
      "password.change": ["110113", "110137", "U"],
      "role.change": ["110113", "110136", "U"],
      "certificate.issue": ["110113", "110137", "C"],
      "certificate.revoke": ["110113", "110137", "D"],
      "mapping.update": ["110113", "110131", "U"],
      "device.register": ["110113", "110137", "C"],
      "device.update": ["110113", "110137", "U"],
      "device.remove": ["110113", "110137", "D"],
      "key.rotate": ["110113", "110129", "U"],
      "backup.create": ["110100", "backup-create", "C"],
      "backup.restore": ["110100", "backup-restore", "U"],
    };
    const denials: Record<string, [string, string, string]> = {
      upload: transferOps.upload as [string, string, string],
      send: transferOps.send as [string, string, string],
      discard: transferOps.deletion as [string, string, string],
      download: transferOps.download as [string, string, string],
      receipt: transferOps.receipt as [string, string, string],
      trail: transferOps["audit-query"] as [string, string, string],
      lookup: transferOps["audit-query"] as [string, string, string],
      read: ["rest", "read", "R"],
      request: ["110113", "request-refused", "E"],
      integrity: ["110113", "integrity-alarm", "E"],
    };
    const outcomes = { success: "0", "minor-failure": "4", "serious-failure": "8", "major-failure": "12" };
    const seen = new Set<string>();
    for (const record of sampleRecords()) {
      const e = auditEventOf(ref(record));
      const got = [e.type.code, (e.subtype ?? []).map((c) => c.code).join("+"), e.action];
      const kind =
        record.type === "admin"
          ? office[record.action]
          : record.type === "denial"
            ? denials[record.action]
            : record.type === "login" || record.type === "logout"
              ? ["110114", record.type === "login" ? "110122" : "110123", "E"]
              : transferOps[record.type];
      const name = `${record.type}${"action" in record ? ` ${record.action}` : ""}`;
      expect(got, name).toEqual(kind);
      expect(e.outcome, name).toBe(outcomes[record.outcome]);
      // Exactly one confidentiality code: R for security events (failures, denials, repairs, alerts).
      const security =
        record.outcome !== "success" ||
        record.type === "denial" ||
        record.type === "repair" ||
        record.type === "alert";
      expect(confidentialityOf(e.meta.security), name).toBe(security ? "R" : "N");
      seen.add(name);
    }
    // Every operation the issue lists is among them: login, logout, failure, lock-out, the transfer's
    // operations, device registration, office actions, audit reads, denials, alarms, repairs.
    for (const must of [
      "login",
      "logout",
      "upload",
      "conversion",
      "send",
      "download",
      "receipt",
      "deletion",
    ]) {
      expect(seen.has(must), must).toBe(true);
    }
    for (const must of [
      "admin device.register",
      "denial integrity",
      "denial read",
      "repair",
      "alert",
      "audit-query",
    ]) {
      expect(seen.has(must), must).toBe(true);
    }
    expect(seen.size).toBe(
      Object.keys(transferOps).length + Object.keys(office).length + Object.keys(denials).length + 2,
    );
  });

  it("a repair with every member and each alert kind (incl. transfer-damaged) validate with their codes", () => {
    const repair: OperationRecord = {
      ...common,
      actor: { id: "system", role: "system" },
      institution: "-",
      type: "repair",
      node: "node-2",
      range: { from: 3, to: 9 },
      sourceNode: "node-1",
      what: ["entries", "tree", "checkpoints", "index-keys", "record-hashes", "transfer-rows", "chunks"],
      checkpoint: { size: 12, root: h("1") },
      entries: 6,
      transfers: ["tr_1"],
      chunks: [h("2")],
      unrepaired: [h("3")],
    };
    const alerts = (
      ["auth-failures", "downloads", "exports", "audit-reads", "transfer-damaged"] as const
    ).map((kind): OperationRecord => ({
      ...common,
      actor: { id: "system", role: "system" },
      institution: "-",
      type: "alert",
      kind,
      count: 11,
      threshold: 10,
      windowMinutes: 10,
      subject: "tr_1",
    }));
    for (const record of [repair, ...alerts]) {
      const e = auditEventOf(ref(record));
      expectValidFhir(e);
      expect([e.type.code, e.subtype?.[0]?.code]).toEqual([
        "110113",
        record.type === "repair" ? "ledger-repair" : "monitoring-alert",
      ]);
      expect(confidentialityOf(e.meta.security)).toBe("R");
    }
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
