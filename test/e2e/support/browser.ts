/**
 * Debian's chromium driven by playwright-core, for the end-to-end tests: one browser per test file,
 * one context per person (each with that person's client certificate), screenshots under
 * test/e2e/screenshots/.
 *
 * Trust. The service asks every connection for a client certificate from the demo CA, and Chromium on
 * Linux can only answer that from an NSS database plus a machine-wide policy. Playwright's
 * `clientCertificates` does it instead with a small TLS-terminating proxy between the browser and the
 * server: the proxy makes the real mutual-TLS connection (it presents the client certificate and checks
 * the server's chain and name), and the browser only ever sees the proxy's throw-away certificate, which
 * Playwright itself tells that one context to accept. So the check that matters is the proxy's, made with
 * Node's trust store, and `ignoreHTTPSErrors` stays false: the proxy accepts the server only if its
 * certificate chains to the demo CA and names `localhost`. A `--ignore-certificate-errors-spki-list`
 * flag would pin nothing here (the browser never sees the server's key), and `ignoreHTTPSErrors: true`
 * would accept any server at all. To give the proxy the demo CA without touching the test process's
 * trust store, the browser runs in a child Node process started with `NODE_EXTRA_CA_CERTS` naming the
 * demo CA (Node reads that variable only at start-up), and the test connects to it over a local
 * WebSocket.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from "playwright-core";
import type { TestNode } from "../../support/test-node.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
] as const;
export const SCREENSHOT_DIR = fileURLToPath(new URL("../screenshots/", import.meta.url));

/** Every wait in the e2e tests is bounded by one of these. */
export const LAUNCH_TIMEOUT_MS = 30_000;
export const ACTION_TIMEOUT_MS = 15_000;
export const NAVIGATION_TIMEOUT_MS = 20_000;

/**
 * The browser server, run by a child Node process. It prints its WebSocket endpoint on one line and
 * closes the browser when its stdin ends, so the browser goes away with the test process even when the
 * test process dies without running its hooks.
 */
const BROWSER_SERVER_PROGRAM = `
import { chromium } from "playwright-core";
const options = JSON.parse(process.argv[1]);
const server = await chromium.launchServer(options);
process.stdout.write(server.wsEndpoint() + "\\n");
process.stdin.on("end", () => { server.close().finally(() => process.exit(0)); });
process.stdin.resume();
`;

export interface E2eBrowser {
  readonly browser: Browser;
  /** https://localhost:<port> — the name the server certificate carries. */
  readonly origin: string;
  /** A fresh context (a fresh browser profile: no cookies, no device key) with `role`'s certificate. */
  newPersonContext(role: "office" | "sender" | "receiver"): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** What chromium needs of a running service: its CA, its port on 127.0.0.1, the demo accounts' keys. */
export interface BrowserTarget {
  readonly demo: Pick<TestNode["demo"], "caCertificate">;
  readonly server: { readonly port: number };
  account(role: "office" | "sender" | "receiver"): { readonly certificate: string; readonly key: string };
}

/**
 * Starts chromium for a running test node (or a cluster's haproxy). Fails at once with a clear message
 * when Debian's chromium is not installed (`apt-get install chromium`).
 */
export async function launchBrowser(
  node: BrowserTarget,
  options: {
    /** false only to prove the point: without the demo CA the proxy must refuse the server. */
    trustDemoCa?: boolean;
  } = {},
): Promise<E2eBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: the end-to-end tests need Debian's chromium (apt-get install chromium)`,
    );
  }
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "--eval",
      BROWSER_SERVER_PROGRAM,
      JSON.stringify({
        executablePath: CHROMIUM_PATH,
        args: CHROMIUM_ARGS,
        headless: true,
        host: "127.0.0.1",
        timeout: LAUNCH_TIMEOUT_MS,
      }),
    ],
    {
      // Resolved from the project root (where node_modules is), whatever directory vitest runs in.
      cwd: fileURLToPath(new URL("../../../", import.meta.url)),
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: options.trustDemoCa === false ? undefined : node.demo.caCertificate,
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let browser: Browser | undefined;
  try {
    const endpoint = await readEndpoint(child);
    browser = await chromium.connect(endpoint, { timeout: LAUNCH_TIMEOUT_MS });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const connected = browser;
  const origin = `https://localhost:${node.server.port}`;
  return {
    browser: connected,
    origin,
    newPersonContext: async (role) => {
      const account = node.account(role);
      const context = await connected.newContext({
        baseURL: origin,
        clientCertificates: [{ origin, certPath: account.certificate, keyPath: account.key }],
        ignoreHTTPSErrors: false,
        locale: "ja-JP",
        timezoneId: "Asia/Tokyo",
        viewport: { width: 1280, height: 900 },
        acceptDownloads: true,
      });
      context.setDefaultTimeout(ACTION_TIMEOUT_MS);
      context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
      return context;
    },
    close: async () => {
      await connected.close().catch(() => undefined);
      await stopChild(child);
    },
  };
}

function readEndpoint(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      finish(new Error(`chromium did not start within ${LAUNCH_TIMEOUT_MS} ms: ${err.trim()}`));
    }, LAUNCH_TIMEOUT_MS);
    const finish = (error: Error | undefined, endpoint?: string): void => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.removeAllListeners("exit");
      if (error) reject(error);
      else resolve(endpoint ?? "");
    };
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const line = /^(ws:\/\/127\.0\.0\.1:\d+\/\S*)\n/.exec(out);
      if (line?.[1] !== undefined) finish(undefined, line[1]);
    });
    child.stderr?.on("data", (chunk: string) => {
      if (err.length < 10_000) err += chunk;
    });
    child.once("exit", (code) => {
      finish(new Error(`the browser server exited (code ${String(code)}) before it started: ${err.trim()}`));
    });
  });
}

/** Ends the child's stdin (it then closes chromium and exits); kills it if it has not gone in 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Chromium's console line for an HTTP error status; the request's URL is the message's location. */
const FAILED_RESOURCE = /^Failed to load resource: the server responded with a status of (\d{3})\b/;

/**
 * Collects what must never happen on a page: console errors (a CSP violation is reported as one),
 * uncaught exceptions, any 5xx answer, a failed load of anything that is not an API call, and any
 * request to another host than localhost (the UI makes no third-party requests). Attach before the
 * page navigates.
 *
 * One kind of console error is expected and not collected: Chromium logs every 4xx answer to a
 * `fetch` as "Failed to load resource", and the UI asks the API questions whose normal answer is a 4xx
 * (401 before login, 409 DEVICE_CONFIRMATION_REQUIRED for a second device, 404 for a transfer the
 * person may not see). A 4xx for a page, script, style sheet, image or icon is collected.
 */
export class PageProblems {
  readonly messages: string[] = [];

  watch(page: Page): Page {
    page.on("console", (message: ConsoleMessage) => {
      const text = message.text();
      const isError = message.type() === "error" || /Content Security Policy/i.test(text);
      if (!isError) return;
      const failed = FAILED_RESOURCE.exec(text);
      const resource = message.location().url;
      if (failed?.[1] !== undefined && Number(failed[1]) < 500 && isApiUrl(resource)) return;
      this.messages.push(`console ${message.type()} on ${page.url()}: ${text} (${resource})`);
    });
    page.on("pageerror", (error) => {
      this.messages.push(`page error on ${page.url()}: ${error.message}`);
    });
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.protocol !== "data:" && url.protocol !== "blob:" && url.hostname !== "localhost") {
        this.messages.push(`request to another host from ${page.url()}: ${request.url()}`);
      }
    });
    page.on("response", (response) => {
      if (response.status() >= 500) {
        this.messages.push(`${response.status()} for ${response.request().method()} ${response.url()}`);
      }
    });
    return page;
  }

  watchContext(context: BrowserContext): BrowserContext {
    for (const page of context.pages()) this.watch(page);
    context.on("page", (page) => this.watch(page));
    return context;
  }
}

function isApiUrl(url: string): boolean {
  try {
    return new URL(url).pathname.startsWith("/api/v1/");
  } catch {
    return false;
  }
}

/** Saves a full-page PNG as test/e2e/screenshots/<name>.png (the README shows these). */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage: true, animations: "disabled" });
}
