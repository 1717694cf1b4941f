/**
 * Our eCheckup output against the JP eCheckup IG's own published StructureDefinitions (the IG's FHIR
 * package, loaded by test/support/echeckup-ig.ts), validated by @medplum/core 4 with each resource's
 * profile; plus the IG's code systems for the codes we write.
 *
 * The package obtainable here is `jp-eCheckupReport.r4` 1.0.0-temp (2024-02); we follow IG v1.3.1. Where
 * the two differ this test says so instead of checking: the Patient profile was replaced in v1.2.x
 * (1.0.0's JP_Patient_eCS, a 電子カルテ情報共有サービス profile requiring address and split names, became
 * JP_Patient_eCheckupGeneral, which allows text names) and the 報告区分 system was unified to
 * urn:oid:1.2.392.200119.6.1001 in v1.2.1 — those two are checked by our rules (ig-rules.ts) only.
 * medplum cannot parse the Bundle profiles (entry slicing by `profile`), so their entry slices are
 * counted here from the StructureDefinition itself.
 *
 * Without the package (it is not on npm and not committed), the tests are skipped, and say why.
 */
import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReference, runConvert, type Reference } from "../../../test/support/convert-run.js";
import {
  igCodeSystem,
  igPackagePath,
  igProfileErrors,
  loadIgPackage,
} from "../../../test/support/echeckup-ig.js";
import { fhirErrors } from "../../../test/support/fhir-validator.js";
import { parseMapping } from "../../convert/mapping.js";
import { checkMapping } from "../../convert/mapping-check.js";
import { checkupProgram } from "./echeckup-programs.js";
import { METHOD_BY_ITEM_CODE } from "./echeckup-methods.js";
import { standardCsvToEcheckup } from "./echeckup-export.js";
import { CODES_OUTSIDE_IG, GENERAL_JLAC10_CODES, PROFILE, SYSTEM } from "./echeckup-systems.js";

type Json = Record<string, unknown>;
type Entry = { fullUrl: string; resource: Json };

const available = igPackagePath() !== undefined;
if (!available) {
  process.stderr.write(
    "echeckup-ig-profiles: the IG package is not here ($KENSHIN_ECHECKUP_IG or ../shared/reference/fhir/jp-eChekupReport.r4.tgz): skipped\n",
  );
}

/** The package's Patient profiles for our Patient's (see the module comment: replaced after 1.0.0). */
const PATIENT_IN_PACKAGE = new Set([
  "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS",
  "http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCS",
]);

describe.skipIf(!available)("eCheckup output against the IG's own StructureDefinitions", () => {
  let ref: Reference;
  let bundles: Json[];
  beforeAll(async () => {
    ref = await loadReference();
    const mapping = parseMapping(await readFile("examples/wide-cp932/mapping.yaml", "utf8"));
    const { output } = await runConvert(
      await readFile("examples/wide-cp932/export.csv"),
      checkMapping(mapping, ref.dictionary, ref.thesaurus),
    );
    bundles = standardCsvToEcheckup(output, ref.dictionary, { referenceRanges: mapping.referenceRanges })
      .ndjson.trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
  });

  const profileOf = (r: Json) => ((r["meta"] as Json)["profile"] as string[])[0] ?? "";

  it("every resource but the Patient meets its IG profile (medplum, 0 errors)", () => {
    const ig = loadIgPackage();
    if (!ig) throw new Error("unreachable");
    const checked = new Set<string>();
    for (const bundle of bundles) {
      for (const { resource } of bundle["entry"] as Entry[]) {
        if (resource["resourceType"] === "Patient") continue;
        const profile = profileOf(resource);
        expect(igProfileErrors(ig, resource, profile), `${profile}\n${JSON.stringify(resource)}`).toEqual([]);
        checked.add(profile);
      }
    }
    // All the profiles we write except the Bundle's and the Patient's were applied.
    expect([...checked].sort()).toEqual(
      [
        PROFILE.composition,
        PROFILE.practitioner,
        PROFILE.organization,
        PROFILE.organizationInsurer,
        PROFILE.encounter,
        PROFILE.coverageService,
        PROFILE.observation,
      ].sort(),
    );
  });

  it("the profiles have teeth: what the R4 base allows but the IG forbids fails", () => {
    const ig = loadIgPackage();
    if (!ig) throw new Error("unreachable");
    const list = (bundles[0]?.["entry"] ?? []) as Entry[];
    const composition = structuredClone(list[0]?.resource ?? {});
    delete composition["event"];
    delete composition["encounter"];
    expect(fhirErrors(composition)).toEqual([]); // fine for FHIR R4 …
    const errors = igProfileErrors(ig, composition, PROFILE.composition); // … not for the IG
    expect(errors.some((e) => e.startsWith("Composition.event"))).toBe(true);
    expect(errors.some((e) => e.startsWith("Composition.encounter"))).toBe(true);
    const coverage = structuredClone(
      list.find((e) => e.resource["resourceType"] === "Coverage")?.resource ?? {},
    );
    delete coverage["subscriberId"];
    expect(fhirErrors(coverage)).toEqual([]);
    expect(igProfileErrors(ig, coverage, PROFILE.coverageService).join("\n")).toContain("subscriberId");
    const obs = structuredClone(
      list.find((e) => e.resource["resourceType"] === "Observation")?.resource ?? {},
    );
    obs["basedOn"] = [{ reference: list[1]?.fullUrl }];
    expect(igProfileErrors(ig, obs, PROFILE.observation).join("\n")).toContain("basedOn");
  });

  it("the Bundle's entry slices of the IG's Bundle profile hold (counted from its StructureDefinition)", () => {
    const ig = loadIgPackage();
    if (!ig) throw new Error("unreachable");
    const sd = ig.unparsed.has(PROFILE.bundle) ? undefined : ig.profiles.get(PROFILE.bundle);
    expect(sd, "medplum parses the Bundle profile now: validate it directly instead").toBeUndefined();
    const raw = loadRawProfile(ig, PROFILE.bundle);
    const elements = (raw["snapshot"] as { element: Json[] }).element;
    const slices = elements
      .filter((e) => /^Bundle\.entry:[^.]+$/.test(String(e["id"])))
      .map((e) => {
        const name = String(e["id"]).split(":")[1] ?? "";
        const resource = elements.find((x) => x["id"] === `Bundle.entry:${name}.resource`);
        const profiles = ((resource?.["type"] as Json[] | undefined)?.[0]?.["profile"] ?? []) as string[];
        return { name, min: Number(e["min"]), max: String(e["max"]), profiles };
      });
    expect(slices.map((s) => s.name)).toEqual(expect.arrayContaining(["composition", "patient", "coverage"]));
    for (const bundle of bundles) {
      const list = bundle["entry"] as Entry[];
      for (const slice of slices) {
        const wanted = slice.profiles.map((p) => (PATIENT_IN_PACKAGE.has(p) ? PROFILE.patient : p));
        const n = list.filter((e) => wanted.includes(profileOf(e.resource))).length;
        expect(n, `entry:${slice.name}`).toBeGreaterThanOrEqual(slice.min);
        if (slice.max !== "*") expect(n, `entry:${slice.name}`).toBeLessThanOrEqual(Number(slice.max));
      }
      const minEntries = Number(elements.find((e) => e["id"] === "Bundle.entry")?.["min"]);
      expect(list.length).toBeGreaterThanOrEqual(minEntries);
    }
  });

  it("the codes we write are in the IG's code systems", () => {
    const ig = loadIgPackage();
    if (!ig) throw new Error("unreachable");
    const items = igCodeSystem(ig, SYSTEM.itemCode);
    for (const item of ref.dictionary.items) {
      if (item.jlac10 === undefined) continue;
      const inTable = items.has(item.jlac10);
      const general = GENERAL_JLAC10_CODES.has(item.jlac10);
      const outside = CODES_OUTSIDE_IG[item.jlac10] !== undefined;
      // Exactly one of: in the 特定健診 item table, a general JLAC10 lab code, or left out (listed).
      expect([inTable, general, outside].filter(Boolean), `${item.key} ${item.jlac10}`).toEqual([true]);
    }
    const methods = igCodeSystem(ig, SYSTEM.methodCode);
    for (const [code, method] of Object.entries(METHOD_BY_ITEM_CODE)) {
      expect(methods.get(method.code)?.replace(/^\d+：/, ""), `${code} → ${method.code}`).toBe(
        method.display,
      );
      expect(method.code.slice(0, 5)).toBe(code.slice(0, 5)); // the method belongs to the item's analyte
    }
    const programs = igCodeSystem(ig, SYSTEM.programService);
    const sections = igCodeSystem(ig, SYSTEM.sectionCode);
    for (const kind of ["", ...(ref.dictionary.item("checkup-kind")?.terms ?? [])]) {
      const p = checkupProgram(kind);
      expect(programs.has(p.event.code), `${kind} event ${p.event.code}`).toBe(true);
      expect(sections.has(p.results.code) && sections.has(p.questionnaire.code), `${kind} sections`).toBe(
        true,
      );
    }
  });
});

function loadRawProfile(ig: NonNullable<ReturnType<typeof loadIgPackage>>, url: string): Json {
  const sd = ig.raw.get(url);
  if (sd === undefined) throw new Error(`no StructureDefinition ${url} in ${ig.name} ${ig.version}`);
  return sd;
}
