/**
 * What a person does in the browser UI, step by step, found the way a person (or a screen reader)
 * finds things: by role and by the Japanese label (web/README.md lists them). Every wait is bounded by
 * the context's default timeout or an explicit one.
 */
import { createHash } from "node:crypto";
import type { Download, Locator, Page } from "playwright-core";
import { expect } from "vitest";
import { NEW_PASSWORD } from "../../support/test-node.js";
import { ACTION_TIMEOUT_MS, saveScreenshot } from "./browser.js";

export interface Person {
  readonly loginId: string;
  readonly password: string;
}

/** The path the page is at once it is no longer `previous` (a step has moved the page on). */
export async function pathAfter(page: Page, previous: string): Promise<string> {
  let path = previous;
  await expect
    .poll(
      () => {
        path = new URL(page.url()).pathname;
        return path !== previous;
      },
      { timeout: ACTION_TIMEOUT_MS },
    )
    .toBe(true);
  return path;
}

/** Waits for the h1 to read `name`. */
export async function expectHeading(page: Page, name: string): Promise<void> {
  await page.getByRole("heading", { level: 1, name, exact: true }).waitFor({ state: "visible" });
}

/** Fills the login form and submits it. */
export async function logIn(page: Page, person: Person): Promise<void> {
  if (!page.url().endsWith("/login")) await page.goto("/login");
  await expectHeading(page, "ログイン");
  await page.getByLabel("利用者ID", { exact: true }).fill(person.loginId);
  await page.getByLabel("パスワード", { exact: true }).fill(person.password);
  await page.getByRole("button", { name: "ログイン", exact: true }).click();
}

/**
 * First login with a temporary password: the forced password change and the device registration, in
 * whichever order the UI asks for them. Screenshots of the three pages when `screenshots` is set.
 * Returns the person with the new password and the path of the page the person lands on.
 */
export async function firstLogin(
  page: Page,
  account: { loginId: string; password: string },
  options: { deviceLabel: string; newPassword?: string; screenshots?: boolean },
): Promise<{ person: Person; landing: string }> {
  const newPassword = options.newPassword ?? NEW_PASSWORD;
  await page.goto("/login");
  await expectHeading(page, "ログイン");
  if (options.screenshots === true) await saveScreenshot(page, "login");
  await logIn(page, account);
  let path = await pathAfter(page, "/login");
  for (let step = 0; step < 3; step++) {
    if (path === "/password") {
      await expectHeading(page, "パスワードの変更");
      if (options.screenshots === true) await saveScreenshot(page, "password-change");
      await page.getByLabel("現在のパスワード", { exact: true }).fill(account.password);
      await page.getByLabel("新しいパスワード", { exact: true }).fill(newPassword);
      await page.getByLabel("新しいパスワード (確認)", { exact: true }).fill(newPassword);
      await page.getByRole("button", { name: "パスワードを変更する" }).click();
    } else if (path === "/device") {
      await expectHeading(page, "端末の登録");
      if (options.screenshots === true) await saveScreenshot(page, "device-registration");
      await page.getByLabel("この端末の名前", { exact: true }).fill(options.deviceLabel);
      await page.getByRole("button", { name: "この端末を登録する" }).click();
    } else {
      break;
    }
    path = await pathAfter(page, path);
  }
  return { person: { loginId: account.loginId, password: newPassword }, landing: path };
}

/** GET of an API path with the page's own session (the browser's fetch, its cookies). */
export async function apiGet(page: Page, path: string): Promise<{ status: number; json: unknown }> {
  return page.evaluate(async (p) => {
    const r = await fetch(p, { headers: { accept: "application/json" } });
    const text = await r.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json };
  }, path);
}

/** The transfer ID in a /transfers/<id> URL. */
export function transferIdOf(page: Page): string {
  const id = /\/transfers\/(tr_[a-z2-7]{16})$/.exec(new URL(page.url()).pathname)?.[1];
  if (id === undefined) throw new Error(`not a transfer page: ${page.url()}`);
  return id;
}

/** A download's bytes (the browser runs in another process, so they are streamed over here). */
export async function downloadBytes(download: Download): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Presses Tab (at most `max` times) until `target` has the focus. Fails when it never does, so a
 * control that the keyboard cannot reach is a test failure.
 */
export async function tabTo(page: Page, target: Locator, max = 60): Promise<void> {
  await target.waitFor({ state: "visible" });
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el.isSameNode(document.activeElement))) return;
  }
  throw new Error(`tabTo: ${String(target)} not reached with ${max} Tab presses`);
}

/**
 * Starts watching a `progress` element named `name` (aria-label or label) and records every value it
 * shows, so a test can prove a progress bar was shown even when the work is quick. Read the record
 * with {@link progressSeen}.
 */
export async function watchProgress(page: Page, name: string): Promise<void> {
  await page.evaluate((label) => {
    const seen: { value: number; max: number }[] = [];
    (window as unknown as { __progressSeen: typeof seen }).__progressSeen = seen;
    const look = (): void => {
      for (const el of document.querySelectorAll("progress")) {
        const labelled =
          el.getAttribute("aria-label") === label ||
          [...el.labels].some((l) => l.textContent.trim() === label) ||
          (el.getAttribute("aria-labelledby") ?? "")
            .split(/\s+/)
            .some((id) => document.getElementById(id)?.textContent.trim() === label);
        if (labelled) seen.push({ value: el.value, max: el.max });
      }
    };
    new MutationObserver(look).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["value", "max"],
    });
    look();
  }, name);
}

export async function progressSeen(page: Page): Promise<{ value: number; max: number }[]> {
  return page.evaluate(
    () => (window as unknown as { __progressSeen?: { value: number; max: number }[] }).__progressSeen ?? [],
  );
}
