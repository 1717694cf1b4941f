import { describe, expect, it } from "vitest";
import { noQuorumError } from "../cluster/quorum-errors.js";
import { ClusterError } from "../cluster/errors.js";
import { toHttpError } from "./http-errors.js";

describe("cluster codes as HTTP answers", () => {
  it("a state change refused without a majority is a 503 carrying CLUSTER_NO_QUORUM and the Japanese text, not a server fault", () => {
    const answer = toHttpError(noQuorumError({ pending: 3 }));
    expect(answer.status).toBe(503);
    expect(answer.internal).toBe(false);
    const issue = answer.body.issue[0];
    expect(issue?.details.coding[0]?.code).toBe("CLUSTER_NO_QUORUM");
    expect(issue?.details.text).toMatch(/過半数/);
    // The context (queue sizes, node names) never leaves the server.
    expect(JSON.stringify(answer.body)).not.toContain("pending");
  });

  it("a state change the cluster could not confirm (etcd unreachable mid-call) is a coded 503, not a server fault", () => {
    const answer = toHttpError(
      new ClusterError("CLUSTER_UNAVAILABLE", "クラスタが応答しないため記録できたか分かりません", {
        outcome: "unknown",
      }),
    );
    expect(answer.status).toBe(503);
    expect(answer.internal).toBe(false);
    expect(answer.body.issue[0]?.details.coding[0]?.code).toBe("CLUSTER_UNAVAILABLE");
    expect(JSON.stringify(answer.body)).not.toContain("outcome");
  });

  it("other cluster codes stay internal 500s with the generic text", () => {
    const answer = toHttpError(new ClusterError("CLUSTER_LOG_GAP", "gap", { node: "node2" }));
    expect(answer.status).toBe(500);
    expect(answer.body.issue[0]?.details.coding[0]?.code).toBe("INTERNAL");
  });
});
