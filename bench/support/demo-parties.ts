/**
 * The demo institutions the server benches act as: a fresh demo data directory (the office, one
 * sender with the shipped example mapping, one receiver), and each party's client through its first
 * login on a running node (device key registered, password changed), as a real user's first day.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type * as ApiClientModule from "../../src/client/api-client.js";
import type * as DeviceKeyModule from "../../src/client/device-key.js";
import type * as DemoModule from "../../src/service/demo.js";
import { DIST, load } from "./built-service.js";

/** Every bench node listens on loopback only. */
export const BENCH_HOST = "127.0.0.1";
const PASSWORD = "Ks7#bench-Maple9";

export type Role = "office" | "sender" | "receiver";

export interface Party {
  readonly client: ApiClientModule.ApiClient;
  /** The party's client certificate and key (PEM), for load generators that open their own TLS. */
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DemoParties {
  /** The node's CA certificate (PEM). */
  readonly caPem: string;
  readonly office: Party;
  readonly sender: Party;
  readonly receiver: Party;
  /** The sender's and the receiver's institution IDs, as their sessions name them. */
  readonly senderId: string;
  readonly receiverId: string;
}

/** A demo data directory in `dir` (`kenshin demo` without the server). */
export async function createBenchDemo(dir: string): Promise<DemoModule.DemoDescription> {
  const { createDemo } = await load<typeof DemoModule>("service/demo.js");
  return createDemo(dir, {
    port: 0,
    host: BENCH_HOST,
    exampleMapping: fileURLToPath(new URL("../examples/wide-cp932/mapping.yaml", DIST)),
  });
}

/**
 * The office, the sender and the receiver logged in on `baseUrl`, in that order. Each client is added
 * to `clients` as soon as it exists, so the caller closes every one whatever fails later.
 */
export async function logInParties(
  demo: DemoModule.DemoDescription,
  options: {
    readonly baseUrl: string;
    readonly timeoutMs: number;
    readonly clients: ApiClientModule.ApiClient[];
  },
): Promise<DemoParties> {
  const [{ createApiClient }, device] = await Promise.all([
    load<typeof ApiClientModule>("client/api-client.js"),
    load<typeof DeviceKeyModule>("client/device-key.js"),
  ]);
  const caPem = await readFile(demo.caCertificate, "utf8");
  const loggedIn = async (role: Role): Promise<Party> => {
    const a = demo.accounts.find((x) => x.role === role);
    if (!a) throw new Error(`no demo ${role}`);
    const certPem = await readFile(a.certificate, "utf8");
    const keyPem = await readFile(a.key, "utf8");
    const pair = await device.generateDeviceKey();
    const publicJwk = await device.exportPublicJwk(pair.publicKey);
    const client = createApiClient({
      baseUrl: options.baseUrl,
      caPem,
      certPem,
      keyPem,
      timeoutMs: options.timeoutMs,
      deviceKey: {
        privateKey: pair.privateKey,
        publicJwk,
        deviceId: await device.deviceIdFromJwk(publicJwk),
      },
    });
    options.clients.push(client);
    await expectStatus(client.login(a.loginId, a.password), 201, "login");
    await expectStatus(client.registerDevice({ label: "bench" }), 201, "device");
    await expectStatus(client.changePassword(a.password, PASSWORD), 204, "password");
    return { client, certPem, keyPem };
  };
  const office = await loggedIn("office");
  const sender = await loggedIn("sender");
  const receiver = await loggedIn("receiver");
  const institution = async (c: ApiClientModule.ApiClient) =>
    ((await c.get("/api/v1/session")).json as { institution: { id: string } }).institution.id;
  const senderId = await institution(sender.client);
  const receiverId = await institution(receiver.client);
  return { caPem, office, sender, receiver, senderId, receiverId };
}

/** Throws with the answer's start when a bench request is not answered as it must be. */
export async function expectStatus(
  p: Promise<ApiClientModule.ApiResponse>,
  status: number,
  what: string,
): Promise<void> {
  const r = await p;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
}
