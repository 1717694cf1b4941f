/**
 * `openapi/openapi.json` is the document the server serves (src/server/openapi.ts, built from the route
 * table in src/server/operations/), checked in so it can be read and diffed without running the service. Refresh with `UPDATE_GOLDEN=1 npx vitest run test/openapi.test.ts`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../src/server/openapi.js";

describe("openapi/openapi.json", () => {
  it("is the document the server serves", async () => {
    // Byte for byte: the order of paths and keys is part of what readers diff.
    const text = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
    if (process.env["UPDATE_GOLDEN"] === "1") await writeFile("openapi/openapi.json", text);
    expect(await readFile("openapi/openapi.json", "utf8")).toBe(text);
  });
});
