/**
 * Mapping files registered per sender. A mapping is accepted only after it validates against the
 * dictionary and thesaurus and, when a sample export is given, converts it; the sample is converted in
 * memory and never stored (it holds examinees' data).
 */
import { convert } from "../../convert/engine.js";
import { parseMapping } from "../../convert/mapping.js";
import { checkMapping } from "../../convert/mapping-check.js";
import { buildReport, reportMetaOf, type ConvertReport } from "../../convert/report.js";
import { isCodedError } from "../../coded-error.js";
import { loadDictionary, DEFAULT_DICTIONARY_PATH, type Dictionary } from "../../format/dictionary.js";
import { sha256Hex } from "../../format/hash.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus, type Thesaurus } from "../../convert/thesaurus.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { getInstitution } from "../identity/institutions.js";
import { opaqueId } from "../ids.js";
import { mappingAdd } from "../state-commands/device-commands.js";

export interface RegisteredMapping {
  readonly id: string;
  readonly institutionId: string;
  readonly name: string;
  readonly sha256: string;
  readonly createdAt: string;
  /** The test conversion of the sample, when one was given (counts and issue codes only). */
  readonly sampleReport?: ConvertReport;
}

/** Reference data of the conversion, loaded once per process. */
export interface ConversionReference {
  readonly dictionary: Dictionary;
  readonly thesaurus: Thesaurus;
}

export async function loadConversionReference(): Promise<ConversionReference> {
  const [dictionary, thesaurus] = await Promise.all([
    loadDictionary(DEFAULT_DICTIONARY_PATH),
    loadThesaurus(DEFAULT_THESAURUS_PATH),
  ]);
  return { dictionary, thesaurus };
}

/** Validates a mapping (and a sample) and makes it the sender's active mapping. */
export async function registerMapping(
  ctx: ServiceContext,
  actor: Actor,
  reference: ConversionReference,
  institutionId: string,
  mappingText: string,
  sample?: Uint8Array,
): Promise<RegisteredMapping> {
  const institution = getInstitution(ctx, institutionId);
  if (institution.kind !== "sender") {
    throw new ServiceError("MAPPING_INVALID", "マッピングファイルは健診機関にだけ登録します", {});
  }
  let sampleReport: ConvertReport | undefined;
  let name: string;
  const sha256 = sha256Hex(mappingText);
  try {
    const mapping = parseMapping(mappingText, "mapping");
    const checked = checkMapping(mapping, reference.dictionary, reference.thesaurus);
    name = mapping.name;
    if (sample !== undefined) {
      const summary = await convert([sample], { write: () => undefined }, { checked, encoding: "utf-8" });
      sampleReport = buildReport(summary, reportMetaOf(checked, sha256));
    }
  } catch (error) {
    if (isCodedError(error)) {
      throw new ServiceError("MAPPING_INVALID", error.message, { cause: error.code, ...error.context });
    }
    throw error;
  }
  const id = opaqueId("map", ctx.random);
  const createdAt = ctx.now().toISOString();
  await audit(ctx, [adminRecord(ctx, actor, "mapping.update", { kind: "mapping", id })], {
    command: mappingAdd.of({
      id,
      institutionId,
      name,
      sha256,
      body: mappingText,
      activate: true,
      at: createdAt,
    }),
  });
  return { id, institutionId, name, sha256, createdAt, ...(sampleReport ? { sampleReport } : {}) };
}

/** The sender's active mapping text, if any. */
export function activeMapping(
  ctx: ServiceContext,
  institutionId: string,
): { id: string; name: string; body: string; sha256: string } | undefined {
  return ctx.db
    .prepare<[string], { id: string; name: string; body: string; sha256: string }>(
      "SELECT id, name, body, sha256 FROM mappings WHERE institution_id = ? AND active = 1",
    )
    .get(institutionId);
}
