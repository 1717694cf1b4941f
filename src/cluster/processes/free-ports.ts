/**
 * Free TCP ports on 127.0.0.1 for processes that must be told their port up front (etcd, haproxy).
 * All sockets are held open until every port is known, so one call never returns the same port twice;
 * another process may still take a port before the child binds it, which the callers' bounded start-up
 * wait reports as an exit rather than a hang.
 */
import { createServer, type Server } from "node:net";

export const LOOPBACK = "127.0.0.1";

export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, LOOPBACK, () => {
            const address = server.address();
            if (address === null || typeof address === "string") reject(new Error("no port"));
            else resolve(address.port);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => {
              resolve();
            });
          }),
      ),
    );
  }
}
