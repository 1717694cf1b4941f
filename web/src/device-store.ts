/**
 * What this browser keeps in IndexedDB (database `kenshin-web`): the device key pair per login ID —
 * the private key non-extractable, so script can sign with it but never read it — and the pinned
 * ledger verifier key and the seal / time-stamp trust anchors (trust on first use). CryptoKey objects are stored as they are (structured
 * clone); nothing here is ever sent anywhere but the public key at registration.
 */
import { deviceIdFromJwk, exportPublicJwk, generateDeviceKey } from "../../src/client/device-key.js";

const DB_NAME = "kenshin-web";
const DB_VERSION = 1;
const DEVICES = "devices";
const PINS = "pins";
const VERIFIER_KEY_PIN = "ledger-verifier-key";
const SIGNING_TRUST_PIN = "signing-trust";

export interface StoredDevice {
  readonly loginId: string;
  readonly deviceId: string;
  readonly keyPair: CryptoKeyPair;
  readonly createdAt: string;
}

export interface VerifierKeyPin {
  readonly text: string;
  readonly pinnedAt: string;
}

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.addEventListener("success", () => {
      resolve(request.result);
    });
    request.addEventListener("error", () => {
      reject(request.error ?? new Error("IndexedDB request failed"));
    });
  });
}

function openDb(): Promise<IDBDatabase> {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.addEventListener("upgradeneeded", () => {
    const db = request.result;
    if (!db.objectStoreNames.contains(DEVICES)) db.createObjectStore(DEVICES, { keyPath: "loginId" });
    if (!db.objectStoreNames.contains(PINS)) db.createObjectStore(PINS);
  });
  return promised(request);
}

async function withStore<T>(
  name: string,
  mode: IDBTransactionMode,
  f: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDb();
  try {
    return await promised(f(db.transaction(name, mode).objectStore(name)));
  } finally {
    db.close();
  }
}

/** The device key this browser holds for a login ID, if any. */
export async function loadDevice(loginId: string): Promise<StoredDevice | undefined> {
  const found = await withStore(DEVICES, "readonly", (s) => s.get(loginId) as IDBRequest<unknown>);
  return found === undefined ? undefined : (found as StoredDevice);
}

/** Creates (and stores) a new non-extractable device key for a login ID. */
export async function createDevice(loginId: string, now: Date): Promise<StoredDevice> {
  const keyPair = await generateDeviceKey();
  const deviceId = await deviceIdFromJwk(await exportPublicJwk(keyPair.publicKey));
  const device: StoredDevice = { loginId, deviceId, keyPair, createdAt: now.toISOString() };
  await withStore(DEVICES, "readwrite", (s) => s.put(device));
  return device;
}

/** The verifier key pinned in this browser, if any. */
export async function loadVerifierKeyPin(): Promise<VerifierKeyPin | undefined> {
  const found = await withStore(PINS, "readonly", (s) => s.get(VERIFIER_KEY_PIN) as IDBRequest<unknown>);
  return found === undefined ? undefined : (found as VerifierKeyPin);
}

export async function saveVerifierKeyPin(pin: VerifierKeyPin): Promise<void> {
  await withStore(PINS, "readwrite", (s) => s.put(pin, VERIFIER_KEY_PIN));
}

/** The pinned seal / TSA trust anchors: the JSON text `GET /api/v1/ledger/signing-trust` first served. */
export async function loadSigningTrustPin(): Promise<VerifierKeyPin | undefined> {
  const found = await withStore(PINS, "readonly", (s) => s.get(SIGNING_TRUST_PIN) as IDBRequest<unknown>);
  return found === undefined ? undefined : (found as VerifierKeyPin);
}

export async function saveSigningTrustPin(pin: VerifierKeyPin): Promise<void> {
  await withStore(PINS, "readwrite", (s) => s.put(pin, SIGNING_TRUST_PIN));
}
