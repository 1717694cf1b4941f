import { describe, expect, it } from "vitest";
import { generateNoteKey } from "../../crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../../crypto/note-signer.js";
import { expectCode } from "../../../test/ledger/expect-code.js";
import { formatCosignerList, parseCosignerList } from "./cosigner-list.js";
import { parseVerifierKey } from "./verifier-key.js";

const logKey = parseVerifierKey(createNoteSigner(generateNoteKey("kenshin.example/log")).verifierKey);
const nodes = [1, 2, 3].map(
  (i) => createCosigner(generateNoteKey(`kenshin.example/node${i}`), Date.now).verifierKey,
);

describe("the cosigner list (cosigners.txt, GET /api/v1/ledger/cosigners)", () => {
  it("reads the quorum and the keys, ignoring comments and blank lines, and formats back", () => {
    const text = `# the online nodes\nquorum 2\n\n${nodes.join("\n")}\n`;
    const policy = parseCosignerList(text, logKey);
    expect(policy?.quorum).toBe(2);
    expect(policy?.cosigners.map((k) => k.name)).toEqual([
      "kenshin.example/node1",
      "kenshin.example/node2",
      "kenshin.example/node3",
    ]);
    expect(parseCosignerList(formatCosignerList(policy ?? { cosigners: [], quorum: 1 }), logKey)).toEqual(
      policy,
    );
  });

  it("empty text is a single node (no cosigners); the quorum defaults to a majority", () => {
    expect(parseCosignerList("", logKey)).toBeUndefined();
    expect(parseCosignerList("# none\n", logKey)).toBeUndefined();
    expect(parseCosignerList(nodes.join("\n"), logKey)?.quorum).toBe(2);
  });

  it("refuses a bad key, a quorum the keys cannot reach, the log key as a cosigner", () => {
    expectCode(() => parseCosignerList("quorum 2\nnot-a-key\n", logKey), "LEDGER_COSIGNER_POLICY_INVALID");
    expectCode(
      () => parseCosignerList(`quorum 4\n${nodes.join("\n")}`, logKey),
      "LEDGER_COSIGNER_POLICY_INVALID",
    );
    expectCode(() => parseCosignerList("quorum 2\n", logKey), "LEDGER_COSIGNER_POLICY_INVALID");
  });
});
