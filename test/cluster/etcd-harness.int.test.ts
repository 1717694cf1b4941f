import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { pidAlive, useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();

/** A client on one member only, reading member-locally (what a learner can serve). */
async function localGet(url: string, key: string): Promise<string | null> {
  const c = new Etcd3({ hosts: url, dialTimeout: 2000 });
  try {
    return await c.get(key).serializable(true).string();
  } finally {
    c.close();
  }
}

describe("etcd test harness (real etcd 3.4 processes on 127.0.0.1)", () => {
  it("starts three voting members on loopback ports with their own data dirs and agrees on writes", async () => {
    const cluster = suite.cluster();
    const members = cluster.members();
    expect(members).toHaveLength(3);
    expect(new Set(members.map((m) => m.dataDir)).size).toBe(3);
    for (const m of members) {
      expect(m.clientUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(m.process !== undefined && pidAlive(m.process.pid)).toBe(true);
    }
    const client = cluster.client();
    await client.put("harness/a").value("1");
    expect(await client.get("harness/a").string()).toBe("1");
    const list = await client.cluster.memberList({});
    expect(list.members.map((m) => m.name).sort()).toEqual(["etcd1", "etcd2", "etcd3"]);
  });

  it("keeps accepting writes with one member SIGKILLed, and the restarted member catches up", async () => {
    const cluster = suite.cluster();
    const victim = cluster.member("etcd2");
    const pid = victim.process?.pid ?? -1;
    await cluster.kill9("etcd2");
    expect(pidAlive(pid)).toBe(false);
    expect(cluster.member("etcd2").process).toBeUndefined();

    const client = cluster.client();
    await client.put("harness/while-down").value("written with 2 of 3");
    expect(await client.get("harness/while-down").string()).toBe("written with 2 of 3");

    await cluster.restart("etcd2");
    const restarted = cluster.member("etcd2");
    expect(restarted.process?.pid).not.toBe(pid);
    // The restarted member replays from its own WAL and the leader: its local copy has the write.
    await expect
      .poll(() => localGet(restarted.clientUrl, "harness/while-down"), { timeout: 10_000 })
      .toBe("written with 2 of 3");
  });

  it("adds a learner (the offline node's member) that follows without voting", async () => {
    const cluster = suite.cluster();
    const client = cluster.client();
    await client.put("harness/before-learner").value("x");
    const learner = await cluster.addLearner("backup");
    expect(learner.learner).toBe(true);
    const list = await client.cluster.memberList({});
    const entry = list.members.find((m) => m.name === "backup");
    expect(entry?.isLearner).toBe(true);
    expect(list.members.filter((m) => !m.isLearner)).toHaveLength(3);
    await client.put("harness/after-learner").value("y");
    await expect
      .poll(() => localGet(learner.clientUrl, "harness/before-learner"), { timeout: 10_000 })
      .toBe("x");
    await expect
      .poll(() => localGet(learner.clientUrl, "harness/after-learner"), { timeout: 10_000 })
      .toBe("y");
    // Clients list the voting members only.
    expect(cluster.clientUrls()).not.toContain(learner.clientUrl);
  });
});
