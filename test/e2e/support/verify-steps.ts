/**
 * The steps the browser verification tests share (seal-verify, timeline-verify, cluster-verify): the
 * sender's sent transfer made over the API, the standard file as the receiver holds it, choosing a file
 * on the 検証 page, and the trust pins of the page's IndexedDB (web/src/device-store.ts) read or
 * replaced — as if the browser had first met a service with other keys.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { expect } from "vitest";
import type { ApiClient } from "../../../src/client/api-client.js";
import { uploadExport } from "../../../src/client/transfer-client.js";
import { createCertificateAuthority } from "../../../src/crypto/pki/ca.js";
import type { TransferView } from "../../../src/service/transfers/view.js";
import { expectStatus, firstLogin } from "../../support/test-node.js";
import { convertLocally, exampleExport } from "../../support/transfer-fixtures.js";

/** The pins web/src/device-store.ts keeps: the log key (+ the cluster's cosigners), the seal/TSA anchors. */
export type PinName = "ledger-verifier-key" | "signing-trust";

/**
 * The sender's first login over the API, then the example export uploaded to the first receiver and
 * sent (送信確定): the transfer the receiver then verifies in the browser.
 */
export async function sendExampleTransfer(
  sender: ApiClient,
  account: { readonly loginId: string; readonly password: string },
): Promise<TransferView> {
  await firstLogin(sender, account.loginId, account.password);
  const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
  const up = await uploadExport(sender, receivers.receivers[0]?.id ?? "", exampleExport());
  expectStatus(up, 201);
  const transfer = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
  return transfer;
}

/**
 * Writes the standard file as the receiver holds it to `path`: the same conversion of the example
 * export, byte for byte — checked against the transfer's recorded hash first.
 */
export async function writeStandardFile(transfer: TransferView, path: string): Promise<void> {
  const { bytes } = await convertLocally(exampleExport());
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(transfer.standard?.sha256);
  writeFileSync(path, bytes);
}

/** Chooses `path` on the 検証 page and starts the check. */
export async function verifyFile(page: Page, path: string): Promise<void> {
  await page.getByLabel("検証するファイル", { exact: true }).setInputFiles(path);
  await page.getByRole("button", { name: "ファイルを検証" }).click();
}

/** The text of pin `name` in the page's IndexedDB ("" when there is none). */
export async function readPin(page: Page, name: PinName): Promise<string> {
  return pinStore(page, name, null);
}

/** Replaces the text of pin `name` in the page's IndexedDB. */
export async function writePin(page: Page, name: PinName, text: string): Promise<void> {
  await pinStore(page, name, text);
}

/** Pins a fresh CA, not the service's, as the seal and TSA anchors (as if the service had swapped its CA). */
export async function pinOtherSigningCa(page: Page): Promise<void> {
  const other = await createCertificateAuthority({
    commonName: "someone else's CA",
    now: new Date(),
    validityDays: 30,
  });
  await writePin(page, "signing-trust", JSON.stringify({ sealCa: other.certPem, tsaCas: [other.certPem] }));
}

/** Reads (`text` null) or replaces a pin; runs in the page, so everything it uses is inside it. */
async function pinStore(page: Page, name: PinName, text: string | null): Promise<string> {
  return page.evaluate(
    async ({ name, text }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open("kenshin-web");
        open.onsuccess = () => {
          resolve(open.result);
        };
        open.onerror = () => {
          reject(open.error ?? new Error("open"));
        };
      });
      try {
        if (text === null) {
          return await new Promise<string>((resolve, reject) => {
            const get = db.transaction("pins", "readonly").objectStore("pins").get(name);
            get.onsuccess = () => {
              resolve((get.result as { text: string } | undefined)?.text ?? "");
            };
            get.onerror = () => {
              reject(get.error ?? new Error("get"));
            };
          });
        }
        await new Promise<void>((resolve, reject) => {
          const tx = db.transaction("pins", "readwrite");
          tx.objectStore("pins").put({ text, pinnedAt: new Date().toISOString() }, name);
          tx.oncomplete = () => {
            resolve();
          };
          tx.onerror = () => {
            reject(tx.error ?? new Error("put"));
          };
        });
        return text;
      } finally {
        db.close();
      }
    },
    { name, text },
  );
}
