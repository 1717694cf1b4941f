/**
 * The JP eCheckup IG's own published StructureDefinitions, for validating our eCheckup output against
 * the IG's profiles with @medplum/core 4 (the same maintained validator as fhir-validator.ts, given
 * each resource's profile).
 *
 * The IG's FHIR package (`jp-eCheckupReport.r4`, JAMI / 日本HL7協会, CC BY-ND 4.0) is not on npm and is
 * not committed here (it is third-party data we may not redistribute from this repository). It is read
 * from, in order: `$KENSHIN_ECHECKUP_IG` (the package's .tgz or an extracted directory holding
 * `package/`), then `shared/reference/fhir/jp-eChekupReport.r4.tgz` beside the repository. Without it
 * the tests that need it are skipped and say so (see README "FHIR eCheckup output").
 *
 * What medplum can and cannot check with them (found by trying): it parses the resource profiles
 * (Composition, Observation, Encounter, Organization, Practitioner, Coverage, …) and checks their
 * cardinalities, fixed and pattern values, types and extension slices; it cannot parse the Bundle
 * profiles (their entry slicing uses a `profile` discriminator, which medplum 4 does not support), and it
 * does not expand the IG's value sets (required bindings to IG code systems are left to our
 * checker, ig-rules.ts, and to `igCodeSystem` below).
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { indexStructureDefinitionBundle, validateResource } from "@medplum/core";
import { fhirErrors } from "./fhir-validator.js";

type Json = Record<string, unknown>;

export interface IgPackage {
  readonly source: string;
  readonly name: string;
  readonly version: string;
  /** StructureDefinitions by canonical URL. */
  readonly profiles: ReadonlyMap<string, Json>;
  /** Profiles medplum could not index, with its reason. */
  readonly unparsed: ReadonlyMap<string, string>;
  /** Every StructureDefinition of the package by URL, parseable or not (to read their elements). */
  readonly raw: ReadonlyMap<string, Json>;
  /** CodeSystems by canonical URL. */
  readonly codeSystems: ReadonlyMap<string, Json>;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHARED = join(REPO, "..", "shared", "reference", "fhir", "jp-eChekupReport.r4.tgz");

/** Where the IG package is, or undefined when it is not on this machine. */
export function igPackagePath(): string | undefined {
  const fromEnv = process.env["KENSHIN_ECHECKUP_IG"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return existsSync(SHARED) ? SHARED : undefined;
}

/** The JSON files of a FHIR package (`package/*.json`), from a .tgz (ustar) or a directory. */
function packageFiles(path: string): Map<string, string> {
  const files = new Map<string, string>();
  if (statSync(path).isDirectory()) {
    const dir = existsSync(join(path, "package")) ? join(path, "package") : path;
    for (const f of readdirSync(dir))
      if (f.endsWith(".json")) files.set(f, readFileSync(join(dir, f), "utf8"));
    return files;
  }
  const tar = gunzipSync(readFileSync(path));
  const text = (from: number, len: number) =>
    tar
      .subarray(from, from + len)
      .toString("utf8")
      .replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, 100);
    if (name === "") break;
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const type = text(at + 156, 1);
    const prefix = text(at + 345, 155);
    const full = prefix === "" ? name : `${prefix}/${name}`;
    if ((type === "0" || type === "") && /^package\/[^/]+\.json$/.test(full)) {
      files.set(full.slice("package/".length), tar.subarray(at + 512, at + 512 + size).toString("utf8"));
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

let loaded: IgPackage | undefined;

/** Loads and indexes the IG package once per test process (undefined when it is not available). */
export function loadIgPackage(): IgPackage | undefined {
  if (loaded) return loaded;
  const path = igPackagePath();
  if (path === undefined) return undefined;
  fhirErrors({ resourceType: "Basic", code: { text: "x" } }); // the R4 base definitions first
  const files = packageFiles(path);
  const manifest = JSON.parse(files.get("package.json") ?? "{}") as { name?: string; version?: string };
  const profiles = new Map<string, Json>();
  const unparsed = new Map<string, string>();
  const codeSystems = new Map<string, Json>();
  const raw = new Map<string, Json>();
  for (const [name, body] of files) {
    if (name === "package.json" || name.startsWith(".")) continue;
    const resource = JSON.parse(body) as Json;
    const url = resource["url"];
    if (typeof url !== "string") continue;
    if (resource["resourceType"] === "CodeSystem") codeSystems.set(url, resource);
    if (resource["resourceType"] !== "StructureDefinition") continue;
    raw.set(url, resource);
    try {
      indexStructureDefinitionBundle([resource]);
      profiles.set(url, resource);
    } catch (error) {
      unparsed.set(url, (error as Error).message);
    }
  }
  loaded = {
    source: path,
    name: manifest.name ?? "?",
    version: manifest.version ?? "?",
    profiles,
    unparsed,
    raw,
    codeSystems,
  };
  return loaded;
}

interface Issue {
  readonly severity: string;
  readonly expression?: readonly string[];
  readonly details?: { readonly text?: string };
}

/**
 * Errors of one resource against the IG profile with this URL ("" when the profile is in the package
 * and there is nothing wrong); throws when the package lacks a parseable profile of that URL, so a
 * test never passes by not checking.
 */
export function igProfileErrors(ig: IgPackage, resource: unknown, profileUrl: string): string[] {
  const profile = ig.profiles.get(profileUrl);
  if (profile === undefined) {
    throw new Error(
      `IG package ${ig.name} ${ig.version} has no usable profile ${profileUrl}${ig.unparsed.has(profileUrl) ? ` (${ig.unparsed.get(profileUrl)})` : ""}`,
    );
  }
  let issues: Issue[];
  try {
    const result: unknown = validateResource(resource, { profile });
    issues = result as Issue[];
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: Issue[] } }).outcome;
    if (!outcome?.issue) throw error;
    issues = outcome.issue;
  }
  return issues
    .filter((i) => i.severity === "error" || i.severity === "fatal")
    .map((i) => `${i.expression?.join(",") ?? ""}: ${i.details?.text ?? ""}`);
}

/** The codes of one of the IG's CodeSystems (throws when the package lacks it). */
export function igCodeSystem(ig: IgPackage, url: string): Map<string, string> {
  const cs = ig.codeSystems.get(url);
  if (cs === undefined) throw new Error(`IG package ${ig.name} ${ig.version} has no CodeSystem ${url}`);
  const concepts = (cs["concept"] ?? []) as { code: string; display?: string }[];
  return new Map(concepts.map((c) => [c.code, c.display ?? ""]));
}
