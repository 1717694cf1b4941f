import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sampleCommon, sampleRecords } from "../../test/support/sample-records.js";
import { auditEventOf } from "./audit-event.js";
import { AUDIT_MESSAGES_HEAD, AUDIT_MESSAGES_TAIL, auditMessageXml } from "./rfc3881.js";

const RFC3881 = new URL("../../schema/rfc3881.xsd", import.meta.url).pathname;
const WRAPPER = new URL("../../schema/audit-messages.xsd", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "kenshin-rfc3881-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** xmllint's verdict (Debian libxml2-utils). */
function xmllint(xml: string, schema: string): { status: number | null; stderr: string } {
  const file = join(dir, `m-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync("xmllint", ["--noout", "--schema", schema, file], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

const events = sampleRecords().map((record, index) =>
  auditEventOf({ index, leafHash: index.toString(16).padStart(64, "0"), record, origin: "o" }),
);

describe("RFC 3881 / JAHIS audit messages", () => {
  it("every kind of entry gives an AuditMessage that validates against the RFC 3881 schema", () => {
    for (const e of events) {
      const r = xmllint(`<?xml version="1.0" encoding="UTF-8"?>\n${auditMessageXml(e)}\n`, RFC3881);
      expect(r.stderr).toContain("validates");
      expect(r.status).toBe(0);
    }
  });

  it("an export file of all of them validates against the wrapper schema", () => {
    const xml =
      AUDIT_MESSAGES_HEAD + events.map((e) => `${auditMessageXml(e)}\n`).join("") + AUDIT_MESSAGES_TAIL;
    expect(xmllint(xml, WRAPPER).status).toBe(0);
  });

  it("the schema is real: an unknown outcome and a missing EventID are refused", () => {
    const xml = auditMessageXml(events[0] as (typeof events)[number]);
    expect(
      xmllint(xml.replace('EventOutcomeIndicator="0"', 'EventOutcomeIndicator="3"'), RFC3881).status,
    ).not.toBe(0);
    expect(xmllint(xml.replace(/<EventID [^>]*\/>/, ""), RFC3881).status).not.toBe(0);
  });

  it("maps type, action, outcome, the user and the query as the FHIR mapping says, escaping values", () => {
    const e = auditEventOf({
      index: 1,
      leafHash: "f".repeat(64),
      record: {
        ...sampleCommon,
        type: "audit-query",
        query: 'a"<b>&',
        actor: { ...sampleCommon.actor, id: 'x"<y>' },
      },
      origin: "o",
    });
    const xml = auditMessageXml(e);
    expect(xml).toContain('<EventID code="110101" codeSystemName="DCM"');
    expect(xml).toContain('EventActionCode="E"');
    expect(xml).toContain('UserID="x&quot;&lt;y&gt;"');
    expect(xml).toContain(
      `<ParticipantObjectQuery>${Buffer.from('a"<b>&').toString("base64")}</ParticipantObjectQuery>`,
    );
    expect(xmllint(xml, RFC3881).status).toBe(0);
  });
});
