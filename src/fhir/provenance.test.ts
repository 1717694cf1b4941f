import { describe, expect, it } from "vitest";
import { expectValidFhir } from "../../test/support/fhir-validator.js";
import { sampleRecords } from "../../test/support/sample-records.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { provenanceOf } from "./provenance.js";
import { confidentialityOf } from "./security-labels.js";

type Of<T extends OperationRecord["type"]> = Extract<OperationRecord, { type: T }>;
const pick = <T extends OperationRecord["type"]>(type: T): Of<T> =>
  sampleRecords().find((r): r is Of<T> => r.type === type) as Of<T>;
const ref = <R extends OperationRecord>(record: R, index: number) => ({
  index,
  leafHash: index.toString(16).padStart(64, "0"),
  record,
  origin: "o",
});

describe("provenanceOf", () => {
  it("a sealed file's Provenance validates, with the JWS, the device signature and the time stamp", () => {
    const p = provenanceOf({
      seal: ref(pick("seal"), 5),
      send: ref(pick("send"), 4),
      conversion: ref(pick("conversion"), 2),
    });
    expectValidFhir(p);
    expect(p.signature.map((s) => s.type[0]?.code)).toEqual([
      "1.2.840.10065.1.12.1.14",
      "1.2.840.10065.1.12.1.1",
      "1.2.840.10065.1.12.1.18",
    ]);
    expect(Buffer.from(p.signature[0]?.data ?? "", "base64").toString()).toBe(pick("seal").jws);
    expect(p.signature[0]?.sigFormat).toBe("application/jose");
    expect(p.entity?.[0]).toMatchObject({ role: "derivation" });
    expect(confidentialityOf(p.meta.security)).toBe("N");
  });

  it("without a device signature or a conversion entry it still validates", () => {
    const send = { ...pick("send"), actor: { id: "s-1", role: "sender" as const } };
    const p = provenanceOf({ seal: ref(pick("seal"), 5), send: ref(send, 4) });
    expectValidFhir(p);
    expect(p.signature).toHaveLength(2);
  });
});
