/**
 * The mapping file's JSON Schema, generated from the zod schema (one source of truth). The checked-in
 * copy `schema/mapping.schema.json` is compared with this by a test, so editors and other tools can
 * validate mapping files without running our code.
 */
import { z } from "zod";
import { MAPPING_FORMAT_VERSION, mappingSchema } from "./mapping.js";

export const MAPPING_SCHEMA_ID = `https://kenshin-exchange.invalid/schema/mapping-v${MAPPING_FORMAT_VERSION}.json`;

export function mappingJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(mappingSchema, { io: "input", unrepresentable: "any" });
  return { ...schema, $id: MAPPING_SCHEMA_ID, title: "kenshin-exchange mapping file (version 1)" };
}
