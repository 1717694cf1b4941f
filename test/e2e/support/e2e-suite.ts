/**
 * One test node and one chromium for a test file: started in beforeAll, closed in afterAll (browser
 * first, then the server), and a record of every console error and page error seen on the way.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import { startTestNode, type TestNode } from "../../support/test-node.js";
import { launchBrowser, PageProblems, type E2eBrowser } from "./browser.js";

export interface E2eSuite {
  readonly node: () => TestNode;
  readonly browser: () => E2eBrowser;
  readonly problems: PageProblems;
}

/** Where `npm run build` puts the UI, which the server serves. */
const WEB_INDEX = fileURLToPath(new URL("../../../dist/web/index.html", import.meta.url));

/**
 * Registers the file's beforeAll/afterAll. `ui: false` for tests that need only the API (the UI build
 * is otherwise required, and its absence fails at once with what to run).
 */
export function useE2eSuite(
  options: { ui?: boolean; node?: Parameters<typeof startTestNode>[0] } = {},
): E2eSuite {
  let node: TestNode | undefined;
  let browser: E2eBrowser | undefined;
  const problems = new PageProblems();
  beforeAll(async () => {
    if (options.ui !== false && !existsSync(WEB_INDEX)) {
      throw new Error(`${WEB_INDEX} is missing: build the UI first (npm run build)`);
    }
    node = await startTestNode(options.node);
    browser = await launchBrowser(node);
  });
  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await node?.close();
    }
  });
  return {
    node: () => {
      if (!node) throw new Error("the test node did not start");
      return node;
    },
    browser: () => {
      if (!browser) throw new Error("chromium did not start");
      return browser;
    },
    problems,
  };
}
