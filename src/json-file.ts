/**
 * Reading a JSON file whose failures each domain reports with its own coded error: the file could
 * not be read, or it is not JSON.
 */
import { readFile } from "node:fs/promises";

export async function readJsonFile(
  path: string | URL,
  fail: (kind: "unreadable" | "invalid", cause: unknown) => Error,
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw fail("unreadable", cause);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw fail("invalid", cause);
  }
}
