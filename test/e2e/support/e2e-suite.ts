/**
 * One test node and one chromium for a test file: started in beforeAll, closed in afterAll (browser
 * first, then the server), and a record of every console error and page error seen on the way.
 */
import { afterAll, beforeAll } from "vitest";
import { startTestNode, type TestNode } from "../../support/test-node.js";
import { launchBrowser, PageProblems, type E2eBrowser } from "./browser.js";

export interface E2eSuite {
  readonly node: () => TestNode;
  readonly browser: () => E2eBrowser;
  readonly problems: PageProblems;
}

export function useE2eSuite(options: Parameters<typeof startTestNode>[0] = {}): E2eSuite {
  let node: TestNode | undefined;
  let browser: E2eBrowser | undefined;
  const problems = new PageProblems();
  beforeAll(async () => {
    node = await startTestNode(options);
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
