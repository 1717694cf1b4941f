import { describe, expect, it } from "vitest";
import { haproxyConfig } from "./haproxy.js";

const base = {
  port: 8443,
  socket: "/tmp/haproxy.sock",
  backends: [
    { name: "node1", port: 9001 },
    { name: "node2", port: 9002 },
  ],
  check: { kind: "tcp" } as const,
  checkIntervalMs: 1000,
  fall: 2,
  rise: 2,
};

describe("haproxyConfig with PROXY protocol v2", () => {
  it("sends no PROXY header unless asked (a backend that does not expect one would read it as garbage)", () => {
    expect(haproxyConfig(base)).not.toMatch(/send-proxy|^\s*source /m);
  });

  it("opens every server connection, checks included, from the given address with a v2 header", () => {
    const cfg = haproxyConfig({ ...base, sendProxyFrom: "127.0.0.1" });
    expect(cfg).toContain("\n  source 127.0.0.1\n");
    const servers = cfg.split("\n").filter((l) => l.startsWith("  server "));
    expect(servers).toEqual([
      "  server node1 127.0.0.1:9001 send-proxy-v2 check-send-proxy check",
      "  server node2 127.0.0.1:9002 send-proxy-v2 check-send-proxy check",
    ]);
  });

  it("when the source is not an IP address → CLUSTER_OPTION_INVALID", () => {
    for (const bad of ["haproxy.local", "127.0.0.1\n  server evil 1.2.3.4:1", ""]) {
      expect(() => haproxyConfig({ ...base, sendProxyFrom: bad }), bad).toThrow(
        expect.objectContaining({ code: "CLUSTER_OPTION_INVALID" }),
      );
    }
  });
});

describe("haproxyConfig with last-resort ports", () => {
  it("lists each node's last-resort port as an unchecked backup server, all of them used (allbackups)", () => {
    const cfg = haproxyConfig({
      ...base,
      backends: [
        { name: "node1", port: 9001, lastResortPort: 9011 },
        { name: "node2", port: 9002, lastResortPort: 9012 },
      ],
      sendProxyFrom: "127.0.0.1",
    });
    expect(cfg).toContain("\n  option allbackups\n");
    expect(cfg.split("\n").filter((l) => l.startsWith("  server "))).toEqual([
      "  server node1 127.0.0.1:9001 send-proxy-v2 check-send-proxy check",
      "  server node2 127.0.0.1:9002 send-proxy-v2 check-send-proxy check",
      "  server node1-last-resort 127.0.0.1:9011 backup send-proxy-v2",
      "  server node2-last-resort 127.0.0.1:9012 backup send-proxy-v2",
    ]);
  });

  it("without them: no backup server and no allbackups (a cluster made before them)", () => {
    const cfg = haproxyConfig(base);
    expect(cfg).not.toMatch(/backup/);
  });

  it("a last-resort port out of range → CLUSTER_OPTION_INVALID", () => {
    for (const bad of [0, 65536, 1.5]) {
      expect(() =>
        haproxyConfig({ ...base, backends: [{ name: "node1", port: 9001, lastResortPort: bad }] }),
      ).toThrow(expect.objectContaining({ code: "CLUSTER_OPTION_INVALID" }));
    }
  });
});
