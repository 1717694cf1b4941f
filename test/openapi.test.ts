/**
 * `openapi/openapi.json` is the document the server serves (src/server/openapi.ts), checked in so it can
 * be read and diffed without running the service. Refresh with `UPDATE_GOLDEN=1 npx vitest run test/openapi.test.ts`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../src/server/openapi.js";

describe("openapi/openapi.json", () => {
  it("is the document the server serves", async () => {
    const doc = openApiDocument();
    if (process.env["UPDATE_GOLDEN"] === "1")
      await writeFile("openapi/openapi.json", `${JSON.stringify(doc, null, 2)}\n`);
    expect(JSON.parse(await readFile("openapi/openapi.json", "utf8"))).toEqual(doc);
  });
});
