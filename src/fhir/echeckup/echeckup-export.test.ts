import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { checkYaml, loadReference, runConvert, type Reference } from "../../../test/support/convert-run.js";
import { expectValidFhir, fhirErrors } from "../../../test/support/fhir-validator.js";
import { parseMapping, type Mapping } from "../../convert/mapping.js";
import { checkMapping } from "../../convert/mapping-check.js";
import { standardCsvToEcheckup, summaryHeader } from "./echeckup-export.js";
import { confidentialityOf } from "../security-labels.js";
import { CsvTokenizer } from "../../convert/csv-tokenizer.js";
import { checkEcheckupBundle } from "./ig-rules.js";

let ref: Reference;
let standard: Buffer;
let referenceRanges: Mapping["referenceRanges"];
beforeAll(async () => {
  ref = await loadReference();
  const mapping = parseMapping(await readFile("examples/wide-cp932/mapping.yaml", "utf8"));
  referenceRanges = mapping.referenceRanges;
  const { output } = await runConvert(
    await readFile("examples/wide-cp932/export.csv"),
    checkMapping(mapping, ref.dictionary, ref.thesaurus),
  );
  standard = output;
});

type Json = Record<string, unknown>;
const entries = (b: Json) => (b["entry"] as { fullUrl: string; resource: Json }[]).map((e) => e.resource);

describe("FHIR eCheckup output (JP_Bundle_eCheckupGeneral, NDJSON)", () => {
  it("one Bundle per examinee record, each valid against FHIR R4 and the IG rules we fill", () => {
    const out = standardCsvToEcheckup(standard, ref.dictionary, {
      institutionName: "さくら健診センター",
      referenceRanges,
    });
    const lines = out.ndjson.trimEnd().split("\n");
    expect(out.bundles).toBe(9); // the example's 9 records
    expect(out.skipped).toEqual([]);
    expect(lines).toHaveLength(9);
    for (const line of lines) {
      const bundle = JSON.parse(line) as Json;
      expectValidFhir(bundle);
      for (const r of entries(bundle)) expectValidFhir(r);
      expect(checkEcheckupBundle(bundle)).toEqual([]);
    }
  });

  it("carries Composition, Patient, Encounter, Organization and Observations with JLAC10 codes and units", () => {
    const out = standardCsvToEcheckup(standard, ref.dictionary);
    const bundle = JSON.parse(out.ndjson.split("\n")[0] ?? "{}") as Json;
    const resources = entries(bundle);
    expect(resources.map((r) => r["resourceType"]).slice(0, 7)).toEqual([
      "Composition",
      "Patient",
      "Practitioner",
      "Organization",
      "Organization",
      "Encounter",
      "Coverage",
    ]);
    const obs = resources.filter((r) => r["resourceType"] === "Observation");
    const byCode = new Map(obs.map((o) => [((o["code"] as Json)["coding"] as Json[])[0]?.["code"], o]));
    expect(byCode.get("9N001000000000001")?.["valueQuantity"]).toEqual({
      value: 170.5,
      unit: "cm",
      system: "http://unitsofmeasure.org",
      code: "cm",
    });
    expect(byCode.get("9A751000000000001")?.["valueQuantity"]).toMatchObject({
      code: "mm[Hg]",
      unit: "mmHg",
    });
    expect(byCode.get("9N701000000000011")?.["valueCodeableConcept"]).toEqual({
      coding: [{ system: "urn:oid:1.2.392.200119.6.2003", code: "2", display: "いいえ" }],
      text: "いいえ",
    });
    expect(byCode.get("1A020000000191111")?.["valueCodeableConcept"]).toMatchObject({
      coding: [{ system: "urn:oid:1.2.392.200119.6.2102", code: "1" }],
    });
    const patient = resources[1] ?? {};
    expect(patient).toMatchObject({ gender: "male", birthDate: "1970-03-05" });
    expect((bundle["identifier"] as Json)["value"]).toMatch(/^1312345678\^2025\^[0-9a-f-]{36}$/);
    const composition = resources[0] ?? {};
    expect(((composition["category"] as Json[])[0]?.["coding"] as Json[])[0]).toMatchObject({ code: "10" });
    // Items without a JLAC10 code (e.g. 総合判定) are not Observations.
    expect(
      obs.every((o) => /^[0-9A-Z]{17}$/.test(String(((o["code"] as Json)["coding"] as Json[])[0]?.["code"]))),
    ).toBe(true);
    // The method where the code implies one (the IG's example pairs 中性脂肪 …2327101 with 3F01510000).
    expect(byCode.get("3F015000002327101")?.["method"]).toEqual({
      coding: [
        {
          system: "urn:oid:1.2.392.200119.6.1007",
          code: "3F01510000",
          display: "可視吸光光度法(酵素比色法・グリセロール消去)",
        },
      ],
    });
    expect(byCode.get("9N001000000000001")?.["method"]).toBeUndefined();
  });

  it("writes the institution's 基準値 from its mapping as referenceRange, in the value's unit", () => {
    expect(referenceRanges["triglycerides"]).toEqual({ low: 30, high: 149 });
    const bundle = JSON.parse(
      standardCsvToEcheckup(standard, ref.dictionary, { referenceRanges }).ndjson.split("\n")[0] ?? "{}",
    ) as Json;
    const obs = entries(bundle).filter((r) => r["resourceType"] === "Observation");
    const of = (code: string) =>
      obs.find((o) => ((o["code"] as Json)["coding"] as Json[])[0]?.["code"] === code);
    const mgdl = { unit: "mg/dL", system: "http://unitsofmeasure.org", code: "mg/dL" };
    expect(of("3F015000002327101")?.["referenceRange"]).toEqual([
      { low: { value: 30, ...mgdl }, high: { value: 149, ...mgdl } },
    ]);
    expect(of("3F070000002327101")?.["referenceRange"]).toEqual([{ low: { value: 40, ...mgdl } }]);
    expect(of("9N001000000000001")?.["referenceRange"]).toBeUndefined(); // none given for 身長
    expect(checkEcheckupBundle(bundle)).toEqual([]);
    // Without the mapping's ranges, none: the standard CSV carries no 基準値.
    const plain = JSON.parse(
      standardCsvToEcheckup(standard, ref.dictionary).ndjson.split("\n")[0] ?? "{}",
    ) as Json;
    expect(JSON.stringify(plain)).not.toContain("referenceRange");
    // A range in another unit than the value breaks the IG's rule.
    const tg = of("3F015000002327101") ?? {};
    ((tg["referenceRange"] as Json[])[0]?.["low"] as Json)["code"] = "mmol/L";
    expect(checkEcheckupBundle(bundle)).toContain("Observation.referenceRange.low は値と同じ単位");
  });

  it("writes the insurer and the 受診券 as the IG's Organization and Coverage", () => {
    const bundle = JSON.parse(
      standardCsvToEcheckup(standard, ref.dictionary).ndjson.split("\n")[0] ?? "{}",
    ) as Json;
    const list = bundle["entry"] as { fullUrl: string; resource: Json }[];
    const patientUrl = list[1]?.fullUrl;
    const insurer = list[4];
    const coverage = list[6]?.resource;
    expect(insurer?.resource).toMatchObject({
      resourceType: "Organization",
      identifier: [{ system: "urn:oid:1.2.392.100495.20.3.61", value: "06131111" }],
      type: [{ coding: [{ code: "ins" }] }],
    });
    expect(coverage).toMatchObject({
      resourceType: "Coverage",
      status: "active",
      type: { coding: [{ system: "urn:oid:1.2.392.200119.6.208", code: "1" }] },
      subscriberId: "25000000101",
      beneficiary: { reference: patientUrl },
      payor: [{ reference: insurer?.fullUrl }],
    });
    // Broken: the rules say so.
    (coverage as Json)["payor"] = [{ reference: list[3]?.fullUrl }];
    expect(checkEcheckupBundle(bundle)).toContain("Coverage.payor は保険者 1..1");
  });

  it("lists the filled items no Bundle can carry (no item code) instead of dropping them silently", () => {
    const out = standardCsvToEcheckup(standard, ref.dictionary);
    const keys = out.omittedItems.map((o) => o.key);
    expect(keys).toContain("judgement-overall");
    expect(out.omittedItems.every((o) => o.reason === "no-item-code" && o.records >= 1)).toBe(true);
    // The examinee header goes into Patient, Encounter and Coverage: not listed as left out.
    expect(keys).not.toContain("name");
    expect(keys).not.toContain("voucher-number");
    const header = JSON.parse(summaryHeader(out)) as { bundles: number; omittedItems: { key: string }[] };
    expect(header.bundles).toBe(9);
    expect(header.omittedItems.map((o) => o.key)).toEqual(keys);
    expect(/^[\x20-\x7e]*$/.test(summaryHeader(out))).toBe(true); // an HTTP header value: ASCII only
  });

  it("every Bundle and every resource in it carries exactly one confidentiality label (B1): N, NOREUSE", () => {
    for (const line of standardCsvToEcheckup(standard, ref.dictionary).ndjson.trimEnd().split("\n")) {
      const bundle = JSON.parse(line) as Json;
      for (const r of [bundle, ...entries(bundle)]) {
        const security = (r["meta"] as { security?: { system: string; code: string }[] }).security ?? [];
        expect(confidentialityOf(security)).toBe("N");
        expect(security.map((c) => c.code)).toContain("NOREUSE");
      }
    }
  });

  describe("restricted findings (R, sensitive-findings.ts) and the reader's clearance (Z4)", () => {
    /** The example's standard file with HBs抗原 filled (陽性) in every record. */
    function withHbs(): Buffer {
      const rows: string[][] = [];
      const tokenizer = new CsvTokenizer(
        { delimiter: ",", quote: '"', maxFieldLength: 64 * 1024, maxColumns: 100_000 },
        { row: (r) => rows.push([...r.fields]), problem: () => undefined },
      );
      tokenizer.feed(standard.toString("utf8"));
      tokenizer.end();
      const column = (rows[0] ?? []).indexOf("HBs抗原");
      expect(column).toBeGreaterThan(0);
      const quoted = rows
        .filter((r) => r.length > 1)
        .map((r, i) => (i === 0 ? r : r.map((v, c) => (c === column ? "陽性" : v))))
        .map((r) => r.map((v) => `"${v.replace(/"/g, '""')}"`).join(","));
      return Buffer.from(`${quoted.join("\r\n")}\r\n`, "utf8");
    }
    const codesOf = (r: Json) =>
      ((r["meta"] as { security?: { code: string }[] }).security ?? []).map((c) => c.code);
    const hbsOf = (bundle: Json) =>
      entries(bundle).filter(
        (r) => r["resourceType"] === "Observation" && (r["code"] as Json)["text"] === "HBs抗原",
      );

    it("the HBs抗原 Observation is R; the Composition and the Bundle carry R; the other resources stay N", () => {
      const out = standardCsvToEcheckup(withHbs(), ref.dictionary);
      expect(out.bundles).toBe(9);
      for (const line of out.ndjson.trimEnd().split("\n")) {
        const bundle = JSON.parse(line) as Json;
        expectValidFhir(bundle);
        const [hbs] = hbsOf(bundle);
        expect(hbs).toBeDefined();
        if (hbs) expect(codesOf(hbs)).toEqual(["R", "NOREUSE"]);
        expect(codesOf(bundle)).toEqual(["R", "NOREUSE"]);
        for (const r of entries(bundle)) {
          if (r === hbs || r["resourceType"] === "Composition") expect(codesOf(r)[0]).toBe("R");
          else expect(codesOf(r)[0]).toBe("N");
          expectValidFhir(r);
        }
      }
    });

    it("a reader cleared for N gets no HBs抗原 (neither Observation nor narrative) and is told it was withheld", () => {
      const out = standardCsvToEcheckup(withHbs(), ref.dictionary, { clearance: "N" });
      expect(out.ndjson).not.toContain("HBs抗原");
      for (const line of out.ndjson.trimEnd().split("\n")) {
        const bundle = JSON.parse(line) as Json;
        expect(codesOf(bundle)).toEqual(["N", "NOREUSE"]);
        expect(checkEcheckupBundle(bundle)).toEqual([]);
      }
      expect(out.omittedItems).toContainEqual({
        key: "hbs-antigen",
        name: "HBs抗原",
        reason: "restricted",
        records: 9,
      });
      expect(summaryHeader(out)).toContain('"reason":"restricted"');
    });
  });

  it("fresh fullUrls on every export (never reused)", () => {
    const a = standardCsvToEcheckup(standard, ref.dictionary).ndjson;
    const b = standardCsvToEcheckup(standard, ref.dictionary).ndjson;
    const urls = (s: string) => s.match(/urn:uuid:[0-9a-f-]{36}/g) ?? [];
    expect(new Set([...urls(a), ...urls(b)]).size).toBe(new Set(urls(a)).size * 2);
  });

  it("the checks are not toothless: a broken Bundle fails both the base validator and the IG rules", () => {
    const bundle = JSON.parse(
      standardCsvToEcheckup(standard, ref.dictionary).ndjson.split("\n")[0] ?? "{}",
    ) as Json;
    const obs = entries(bundle).find((r) => r["resourceType"] === "Observation") ?? {};
    expect(fhirErrors(obs)).toEqual([]);
    obs["effectiveDateTime"] = "2025/04/01"; // not a FHIR dateTime
    obs["unknownElement"] = true;
    expect(fhirErrors(obs).length).toBeGreaterThan(0);
    (bundle["identifier"] as Json)["value"] = "x";
    (bundle["entry"] as Json[]).splice(1, 1); // drop the Patient
    const problems = checkEcheckupBundle(bundle);
    expect(problems).toContain("Bundle.identifier.value の形式");
    expect(problems).toContain("Patient 1..1");
    expect(problems.some((p) => p.startsWith("参照先が Bundle 内にありません"))).toBe(true);
  });

  it("a record with an institution number the IG identifier cannot hold is listed, not dropped silently", async () => {
    const yaml = `
format: kenshin-mapping
version: 1
name: t
layout: wide
source: { encoding: utf-8 }
fields:
  - { item: institution-number, constant: "9999999999" }
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
  - { item: height, column: 身長 }
`;
    const { output } = await runConvert("ID,日付,身長\r\nA1,R7.4.1,170\r\n", checkYaml(ref, yaml));
    const out = standardCsvToEcheckup(output, ref.dictionary);
    expect(out.bundles).toBe(0);
    expect(out.skipped).toEqual([{ record: 1, reason: expect.stringContaining("健診機関番号") as unknown }]);
  });

  it("a CSV from another dictionary is refused with a code", () => {
    expect(() => standardCsvToEcheckup(Buffer.from("a,b\r\n1,2\r\n"), ref.dictionary)).toThrow(
      expect.objectContaining({ code: "ECHECKUP_INPUT_INVALID" }),
    );
  });
});
