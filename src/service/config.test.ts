import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { ServiceError } from "./errors.js";

function refusal(input: unknown): { code: string; paths: string[] } | undefined {
  try {
    parseConfig(input);
    return undefined;
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    const issues = (error.context["issues"] ?? []) as { path: string }[];
    return { code: error.code, paths: issues.map((i) => i.path) };
  }
}

describe("the proxy setting (PROXY protocol v2 from haproxy)", () => {
  it("is off by default: no address is trusted for PROXY headers", () => {
    expect(parseConfig({}).proxy).toEqual({ trusted: [], headerSeconds: 5 });
  });

  it("takes IPv4 and IPv6 addresses", () => {
    const config = parseConfig({ proxy: { trusted: ["127.0.0.1", "::1", "2001:db8::7"], headerSeconds: 2 } });
    expect(config.proxy).toEqual({ trusted: ["127.0.0.1", "::1", "2001:db8::7"], headerSeconds: 2 });
  });

  it("when a trusted entry is a host name, a range or empty → SERVICE_CONFIG_INVALID naming the entry", () => {
    for (const bad of ["haproxy.local", "10.0.0.0/8", "", "127.0.0.1 "]) {
      const got = refusal({ proxy: { trusted: ["127.0.0.1", bad] } });
      expect(got?.code, bad).toBe("SERVICE_CONFIG_INVALID");
      expect(got?.paths.join(" "), bad).toMatch(/proxy/);
    }
  });

  it("when headerSeconds is out of 1–60, or an unknown key is given → SERVICE_CONFIG_INVALID", () => {
    expect(refusal({ proxy: { headerSeconds: 0 } })?.code).toBe("SERVICE_CONFIG_INVALID");
    expect(refusal({ proxy: { headerSeconds: 61 } })?.code).toBe("SERVICE_CONFIG_INVALID");
    expect(refusal({ proxy: { trusted: [], trust: ["127.0.0.1"] } })?.code).toBe("SERVICE_CONFIG_INVALID");
    expect(refusal({ proxy: { trusted: "127.0.0.1" } })?.code).toBe("SERVICE_CONFIG_INVALID");
  });
});
