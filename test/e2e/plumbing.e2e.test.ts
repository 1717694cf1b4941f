/**
 * The e2e plumbing itself: Debian's chromium reaches the test node over mutual TLS with a demo client
 * certificate, and the server certificate is really checked (against the demo CA, under the name
 * localhost) — not waved through.
 */
import { describe, expect, it } from "vitest";
import { launchBrowser } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";

describe("chromium against the test node", () => {
  const suite = useE2eSuite({ ui: false });

  it("with the sender's certificate → /api/v1/health answers 200 over TLS 1.3 at https://localhost", async () => {
    const browser = suite.browser();
    const context = await browser.newPersonContext("sender");
    try {
      const page = await context.newPage();
      const response = await page.goto("/api/v1/health");
      expect(response?.status()).toBe(200);
      expect(response?.url()).toBe(`${browser.origin}/api/v1/health`);
      expect((await response?.securityDetails())?.protocol).toBe("TLS 1.3");
    } finally {
      await context.close();
    }
  });

  it("when the demo CA is not trusted → the proxy refuses the server (so nothing is waved through)", async () => {
    const untrusting = await launchBrowser(suite.node(), { trustDemoCa: false });
    try {
      const context = await untrusting.newPersonContext("sender");
      const page = await context.newPage();
      const outcome = await page.goto("/api/v1/health").then(
        async (response) => `status ${String(response?.status())}: ${(await response?.text()) ?? ""}`,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      // Playwright's client-certificate proxy answers a failed server check with its own 503 page.
      expect(outcome).toMatch(/^status 503: Playwright client-certificate error: .*certificate/);
    } finally {
      await untrusting.close();
    }
  });
});
