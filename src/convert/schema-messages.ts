/**
 * The mapping schema's problems in Japanese, with the offending key and what would be right, for the
 * clinic's IT person who edits the file (zod's own messages are English and generic).
 */
import type { z } from "zod";
import { closest } from "./did-you-mean.js";

type ZodIssue = z.core.$ZodIssue;

const TYPE_NAMES: Record<string, string> = {
  string: "文字列",
  number: "数値",
  int: "整数",
  boolean: "true か false",
  array: "リスト ([…] または - で始まる行)",
  object: "キーと値の組 ({…} または字下げした行)",
  record: "キーと値の組",
  null: "null",
  undefined: "なし",
};

function typeOf(value: unknown): string {
  if (value === undefined) return "なし";
  if (value === null) return "null";
  if (Array.isArray(value)) return "リスト";
  if (typeof value === "object") return "キーと値の組";
  if (typeof value === "string") return "文字列";
  if (typeof value === "number") return Number.isInteger(value) ? "整数" : "数値";
  if (typeof value === "boolean") return "真偽値";
  return typeof value;
}

function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function show(value: unknown): string {
  const s =
    typeof value === "string" ? value : ((JSON.stringify(value) as string | undefined) ?? String(value));
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * One issue as a Japanese sentence. `raw` is the parsed file (to say what was found); `knownKeys` the
 * property names the schema knows (for did-you-mean on unknown keys).
 */
export function describeSchemaIssue(issue: ZodIssue, raw: unknown, knownKeys: readonly string[]): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys
        .map((k) => {
          const near = closest(k, knownKeys);
          return `「${k}」という設定はありません${near !== undefined && near !== k ? ` (もしかして「${near}」ですか)` : ""}`;
        })
        .join("。");
    case "invalid_type": {
      const found = at(raw, issue.path);
      if (found === undefined)
        return `必須の設定がありません (${TYPE_NAMES[issue.expected] ?? issue.expected}で指定してください)`;
      return `${TYPE_NAMES[issue.expected] ?? issue.expected}で指定してください (${typeOf(found)}が書かれています)`;
    }
    case "invalid_value": {
      const found = at(raw, issue.path);
      const values = issue.values.map((v) => show(v));
      if (found === undefined) return `必須の設定がありません (${values.join("、")} のどれか)`;
      return values.length === 1
        ? `「${values[0] ?? ""}」と書いてください (「${show(found)}」が書かれています)`
        : `次のどれかにしてください: ${values.join("、")} (「${show(found)}」が書かれています)`;
    }
    case "too_small":
      if (issue.origin === "string")
        return Number(issue.minimum) <= 1
          ? "空にはできません"
          : `${String(issue.minimum)} 文字以上にしてください`;
      if (issue.origin === "array") return `${String(issue.minimum)} 個以上指定してください`;
      return `${String(issue.minimum)} 以上にしてください`;
    case "too_big":
      if (issue.origin === "string") return `${String(issue.maximum)} 文字以内にしてください`;
      if (issue.origin === "array") return `${String(issue.maximum)} 個までにしてください`;
      return `${String(issue.maximum)} 以下にしてください`;
    case "invalid_format":
      if (issue.format === "regex") {
        // The schema's own explanation when it has one (custom message), else the generic one.
        return /[^\x20-\x7e]/.test(issue.message)
          ? issue.message
          : `書き方が正しくありません (「${show(at(raw, issue.path))}」)`;
      }
      return `書き方が正しくありません (${issue.format})`;
    case "invalid_union":
      return "書き方が正しくありません (使える形のどれにも当てはまりません)";
    case "invalid_key":
      return "キーが正しくありません";
    case "custom":
      return issue.message;
    case "invalid_element":
    case "not_multiple_of":
      return "内容が正しくありません";
  }
}

/** All property names in a JSON Schema (for did-you-mean). */
export function propertyNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (schema === null || typeof schema !== "object") return out;
  if (Array.isArray(schema)) {
    for (const s of schema) propertyNames(s, out);
    return out;
  }
  const o = schema as Record<string, unknown>;
  if (o["properties"] && typeof o["properties"] === "object") {
    for (const k of Object.keys(o["properties"])) out.add(k);
  }
  for (const v of Object.values(o)) propertyNames(v, out);
  return out;
}
