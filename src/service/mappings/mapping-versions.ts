/**
 * The office's mapping editor behind the API: check a draft (schema, dictionary, thesaurus, and with a
 * sample its columns and a test run), keep every version of an institution's mapping, show one, and
 * make one the active version. Saving and activating are ledger entries (`mapping.update`, target the
 * version's ID); a check changes nothing and is not. A sample is converted in memory and never stored;
 * what comes back of it is counts and issue codes only — never a value, never a message (messages
 * may name a code the export holds).
 */
import { convert } from "../../convert/engine.js";
import { parseMapping } from "../../convert/mapping.js";
import { checkMapping } from "../../convert/mapping-check.js";
import { renderDraft } from "../../convert/suggest/draft-yaml.js";
import { suggestMapping } from "../../convert/suggest/suggest-mapping.js";
import { isCodedError } from "../../coded-error.js";
import { sha256Hex } from "../../format/hash.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { getInstitution } from "../identity/institutions.js";
import { opaqueId } from "../ids.js";
import type { ConversionReference } from "./mappings.js";
import { mappingActivate, mappingAdd } from "../state-commands/device-commands.js";

export interface MappingVersion {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly createdAt: string;
  readonly active: boolean;
}

/** A sample run as the office may see it. */
export interface SampleSummary {
  readonly rowsIn: number;
  readonly recordsOut: number;
  readonly rowsRejected: number;
  readonly rowsIgnored: number;
  readonly issueCounts: Readonly<Record<string, { error: number; warning: number; info: number }>>;
}

export type MappingCheck =
  | {
      readonly ok: true;
      readonly name: string;
      readonly layout: "wide" | "long";
      readonly items: number;
      readonly sha256: string;
      readonly sample?: SampleSummary;
    }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly where?: string };

/** Checks a draft mapping (and runs it over a sample). Never throws for a bad mapping: it says why. */
export async function checkMappingDraft(
  reference: ConversionReference,
  text: string,
  sample?: Uint8Array,
): Promise<MappingCheck> {
  try {
    const mapping = parseMapping(text, "mapping");
    const checked = checkMapping(mapping, reference.dictionary, reference.thesaurus);
    let summary: SampleSummary | undefined;
    if (sample !== undefined) {
      const s = await convert([sample], { write: () => undefined }, { checked, encoding: "utf-8" });
      summary = {
        rowsIn: s.counts.rowsIn,
        recordsOut: s.counts.recordsOut,
        rowsRejected: s.counts.rowsRejected,
        rowsIgnored: s.counts.rowsIgnored,
        issueCounts: Object.fromEntries([...s.issueCounts].sort(([a], [b]) => a.localeCompare(b))),
      };
    }
    return {
      ok: true,
      name: mapping.name,
      layout: mapping.layout,
      items: checked.fields.length + (checked.long?.items.size ?? 0),
      sha256: sha256Hex(text),
      ...(summary ? { sample: summary } : {}),
    };
  } catch (error) {
    if (!isCodedError(error)) throw error;
    const issues = error.context["issues"];
    const first = Array.isArray(issues) ? (issues[0] as { path?: unknown } | undefined) : undefined;
    const where =
      typeof first?.path === "string"
        ? first.path
        : typeof error.context["where"] === "string"
          ? error.context["where"]
          : undefined;
    return { ok: false, code: error.code, message: error.message, ...(where !== undefined ? { where } : {}) };
  }
}

/** A commented draft mapping from a sample export (`kenshin map suggest`), for the editor. */
export function suggestMappingDraft(
  reference: ConversionReference,
  sample: Uint8Array,
  name: string,
): string {
  const suggestion = suggestMapping(sample, reference.dictionary, reference.thesaurus);
  return renderDraft(suggestion, { name, sourceName: "見本ファイル" });
}

export function listMappingVersions(ctx: ServiceContext, institutionId: string): MappingVersion[] {
  getInstitution(ctx, institutionId);
  return ctx.db
    .prepare<[string], { id: string; name: string; sha256: string; created_at: string; active: number }>(
      "SELECT id, name, sha256, created_at, active FROM mappings WHERE institution_id = ? ORDER BY created_at DESC, rowid DESC",
    )
    .all(institutionId)
    .map((r) => ({
      id: r.id,
      name: r.name,
      sha256: r.sha256,
      createdAt: r.created_at,
      active: r.active === 1,
    }));
}

export function mappingVersionText(
  ctx: ServiceContext,
  institutionId: string,
  mappingId: string,
): MappingVersion & { readonly body: string } {
  const r = ctx.db
    .prepare<
      [string, string],
      { id: string; name: string; sha256: string; created_at: string; active: number; body: string }
    >("SELECT id, name, sha256, created_at, active, body FROM mappings WHERE id = ? AND institution_id = ?")
    .get(mappingId, institutionId);
  if (!r) throw new ServiceError("NOT_FOUND", "マッピングの版が見つかりません", {});
  return {
    id: r.id,
    name: r.name,
    sha256: r.sha256,
    createdAt: r.created_at,
    active: r.active === 1,
    body: r.body,
  };
}

/**
 * Saves a checked draft as a new version of the institution's mapping, active or not. Every version
 * is kept; the save is a ledger entry.
 */
export async function saveMappingVersion(
  ctx: ServiceContext,
  actor: Actor,
  reference: ConversionReference,
  institutionId: string,
  text: string,
  activate: boolean,
): Promise<MappingVersion> {
  const institution = getInstitution(ctx, institutionId);
  if (institution.kind !== "sender") {
    throw new ServiceError("MAPPING_INVALID", "マッピングファイルは健診機関にだけ登録します", {});
  }
  const check = await checkMappingDraft(reference, text);
  if (!check.ok) {
    throw new ServiceError("MAPPING_INVALID", check.message, {
      cause: check.code,
      ...(check.where !== undefined ? { where: check.where } : {}),
    });
  }
  const id = opaqueId("map", ctx.random);
  const createdAt = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "mapping.update", { kind: "mapping", id })], {
    command: mappingAdd.of({
      id,
      institutionId,
      name: check.name,
      sha256: check.sha256,
      body: text,
      activate,
      at: createdAt,
    }),
  });
  return { id, name: check.name, sha256: check.sha256, createdAt, active: activate };
}

/** Makes a kept version the active one (a ledger entry). */
export async function activateMappingVersion(
  ctx: ServiceContext,
  actor: Actor,
  reference: ConversionReference,
  institutionId: string,
  mappingId: string,
): Promise<MappingVersion> {
  const version = mappingVersionText(ctx, institutionId, mappingId);
  // A version checked against an older dictionary or thesaurus must still check today.
  const check = await checkMappingDraft(reference, version.body);
  if (!check.ok) throw new ServiceError("MAPPING_INVALID", check.message, { cause: check.code });
  await audit(ctx, [adminRecord(ctx, actor, "mapping.update", { kind: "mapping", id: mappingId })], {
    command: mappingActivate.of({ id: mappingId, institutionId }),
  });
  return { ...version, active: true };
}
