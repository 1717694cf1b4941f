import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectValidFhir } from "../../test/support/fhir-validator.js";
import { sampleRecords } from "../../test/support/sample-records.js";
import { auditEventOf } from "./audit-event.js";
import { isPatientLinked, parsePatientEventId, patientAuditEvent, patientEventId } from "./audit-patient.js";
import { auditMessageXml } from "./rfc3881.js";
import { SYSTEM } from "./systems.js";

const RFC3881 = new URL("../../schema/rfc3881.xsd", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "kenshin-patient-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const patients = [0, 1, 2].map((position) => ({
  position,
  recordSha256: String(position + 1).repeat(64),
}));

describe("per-patient AuditEvents (L2)", () => {
  const linked = sampleRecords().filter(isPatientLinked);

  it("the patient-linked kinds are upload, conversion, send, download, receipt and deletion", () => {
    expect([...new Set(linked.map((r) => r.type))].sort()).toEqual([
      "conversion",
      "deletion",
      "download",
      "receipt",
      "send",
      "upload",
    ]);
    expect(
      sampleRecords()
        .filter((r) => !isPatientLinked(r))
        .map((r) => r.type),
    ).not.toContain("download");
  });

  it("a 3-patient entry gives 3 events, each with exactly one patient entity (type 1, role 1), valid FHIR", () => {
    for (const [index, record] of linked.entries()) {
      const base = auditEventOf({ index, leafHash: "e".repeat(64), record, origin: "o" });
      const events = patients.map((p) => patientAuditEvent(base, index, p));
      expect(new Set(events.map((e) => e.id)).size).toBe(3);
      for (const [i, e] of events.entries()) {
        expectValidFhir(e);
        const found = (e.entity ?? []).filter((x) => x.role?.code === "1");
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({
          what: { identifier: { system: SYSTEM.recordSha256, value: patients[i]?.recordSha256 } },
          type: { code: "1" },
          role: { code: "1" },
        });
        // Everything else is the entry's own event: same codes, agents, and the ledger entity that proves it.
        expect({ ...e, id: base.id, entity: e.entity?.slice(1) }).toEqual(base);
        // No personal data: the patient is a hash and a position, nothing more.
        expect(Object.keys(found[0] ?? {}).sort()).toEqual(["detail", "role", "type", "what"]);
      }
    }
  });

  it("the JAHIS / RFC 3881 message of a patient event validates, with the patient as ParticipantObject 1/1", () => {
    const record = linked.find((r) => r.type === "download");
    if (!record) throw new Error("no download sample");
    const e = patientAuditEvent(
      auditEventOf({ index: 3, leafHash: "e".repeat(64), record, origin: "o" }),
      3,
      patients[1] ?? { position: 1, recordSha256: "" },
    );
    const xml = auditMessageXml(e);
    expect(xml).toMatch(/ParticipantObjectTypeCode="1"[^>]*ParticipantObjectTypeCodeRole="1"/);
    const file = join(dir, "p.xml");
    writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>\n${xml}\n`);
    const r = spawnSync("xmllint", ["--noout", "--schema", RFC3881, file], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.stderr).toContain("validates");
  });

  it("ids round-trip and stay within FHIR's id rules", () => {
    const id = patientEventId(123456789012, 99999);
    expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(parsePatientEventId(id)).toEqual({ index: 123456789012, position: 99999 });
    expect(parsePatientEventId("e".repeat(64))).toBeUndefined();
    expect(parsePatientEventId("e1-p")).toBeUndefined();
  });
});
