import { describe, expect, it } from "vitest";
import { cosign, cosigningFixture, rootAt } from "../../test/cluster/cosigning-fixture.js";
import { expectCode } from "../../test/ledger/expect-code.js";
import type { MemoryTree } from "../ledger/memory-tree.js";
import { openPublishedCheckpoint } from "../ledger/verify/published-checkpoint.js";
import { addCosignatureLines, cosignCheckpoint, type CosignerState } from "./checkpoint-cosigner.js";
import { isCodedError } from "../coded-error.js";

const f = cosigningFixture();

function cosignWith(i: number, own: MemoryTree, note: string, last?: CosignerState) {
  return cosignCheckpoint({
    note,
    logKey: f.logKey,
    cosigner: f.cosigner(i),
    ownSize: own.size,
    ownRootAt: (size) => rootAt(own, size),
    last,
  });
}

function refusal(fn: () => unknown): string {
  const error = expectCode(fn, "CLUSTER_COSIGN_REFUSED");
  return isCodedError(error) ? String(error.context.reason) : "";
}

describe("cosignCheckpoint (a node cosigns only what its own copy yields)", () => {
  it("cosigns a checkpoint whose root it recomputed; two nodes' lines make it published", () => {
    const copy = f.tree(20);
    const note = f.logSigned(copy);
    const a = cosignWith(0, f.tree(20), note);
    const b = cosignWith(1, f.tree(20), note);
    expect(a.state.size).toBe(20);
    const published = addCosignatureLines(note, [a.line, b.line, a.line]);
    const opened = openPublishedCheckpoint(published, f.logKey, { cosigners: f.cosignerKeys, quorum: 2 });
    expect(opened.cosignatures.map((c) => c.name)).toEqual([f.nodeKeys[0]?.name, f.nodeKeys[1]?.name]);
    // A node holding more leaves than the checkpoint still vouches for the prefix it was shown.
    expect(cosignWith(2, f.tree(25), note).checkpoint.size).toBe(20);
  });

  it("refuses a checkpoint larger than its own copy (ahead-of-copy)", () => {
    expect(refusal(() => cosignWith(0, f.tree(19), f.logSigned(f.tree(20))))).toBe("ahead-of-copy");
  });

  it("refuses when one leaf of its own copy differs (root-mismatch)", () => {
    expect(refusal(() => cosignWith(0, f.tree(20, 7), f.logSigned(f.tree(20))))).toBe("root-mismatch");
  });

  it("never goes back to a smaller tree than it cosigned (rollback)", () => {
    const copy = f.tree(30);
    const first = cosignWith(0, copy, f.logSigned(copy, 30));
    expect(refusal(() => cosignWith(0, copy, f.logSigned(copy, 12), first.state))).toBe("rollback");
  });

  it("moves forward from what it cosigned, and refuses when its copy no longer yields that head", () => {
    const copy = f.tree(30);
    const first = cosignWith(0, copy, f.logSigned(copy, 10));
    const second = cosignWith(0, copy, f.logSigned(copy, 30), first.state);
    expect(second.state.size).toBe(30);
    // Same size, other root: the witness never signs two different heads of one size.
    const forked = f.tree(30, 29);
    expect(refusal(() => cosignWith(0, forked, f.logSigned(forked, 30), second.state))).toBe(
      "history-mismatch",
    );
    // An edit inside the range it cosigned earlier, consistent with a new (larger) signed head.
    const rewritten = f.tree(40, 3);
    expect(refusal(() => cosignWith(0, rewritten, f.logSigned(rewritten, 40), second.state))).toBe(
      "history-mismatch",
    );
  });

  it("a checkpoint the log did not sign → the log-signature error, no cosignature", () => {
    const copy = f.tree(5);
    const tampered = f.logSigned(copy).replace("\n5\n", "\n4\n");
    expectCode(() => cosignWith(0, copy, tampered), "LEDGER_CHECKPOINT_SIGNATURE_INVALID");
  });

  it("addCosignatureLines refuses anything but one signature line", () => {
    const note = cosign(f.logSigned(f.tree(3)), f.cosigner(0));
    for (const bad of ["", "— a b", "x a b\n", "— a b\n— c d\n"]) {
      expectCode(() => addCosignatureLines(note, [bad]), "CLUSTER_OPTION_INVALID");
    }
  });
});
