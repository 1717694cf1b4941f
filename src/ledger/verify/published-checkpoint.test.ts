import { describe, expect, it } from "vitest";
import { generateNoteKey } from "../../crypto/note-key.js";
import { createCosigner } from "../../crypto/note-signer.js";
import { cosign, cosigningFixture } from "../../../test/cluster/cosigning-fixture.js";
import { expectCode } from "../../../test/ledger/expect-code.js";
import { isCodedError } from "../../coded-error.js";
import { openPublishedCheckpoint, type CosignerPolicy } from "./published-checkpoint.js";
import { fromBase64, toBase64 } from "./encoding.js";
import { parseVerifierKey } from "./verifier-key.js";

const f = cosigningFixture();
const tree = f.tree(11);
const logSigned = f.logSigned(tree);
const policy: CosignerPolicy = { cosigners: f.cosignerKeys, quorum: 2 };
const [c1, c2, c3] = [0, 1, 2].map((i) => f.cosigner(i));
if (c1 === undefined || c2 === undefined || c3 === undefined) throw new Error("fixture");

/** Flips one bit in the signature bytes of the last signature line. */
function flipLastSignature(note: string): string {
  const lines = note.slice(0, -1).split("\n");
  const last = lines.pop() ?? "";
  const [dash, name, b64] = last.split(" ");
  const raw = fromBase64(b64 ?? "", "sig");
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
  return `${[...lines, `${dash ?? ""} ${name ?? ""} ${toBase64(raw)}`].join("\n")}\n`;
}

describe("openPublishedCheckpoint (log signature + quorum of pinned cosigners)", () => {
  it("accepts the log signature with 2 of the 3 pinned node cosignatures", () => {
    const published = openPublishedCheckpoint(cosign(cosign(logSigned, c1), c3), f.logKey, policy);
    expect(published.checkpoint.size).toBe(11);
    expect(published.checkpoint.root).toEqual(tree.root());
    expect(published.cosignatures.map((c) => c.name)).toEqual([c1.name, c3.name]);
  });

  it("accepts all three, in any order, and reports the cosigners' timestamps", () => {
    const t = Date.UTC(2026, 11, 1, 9, 0, 0);
    const note = cosign(cosign(cosign(logSigned, f.cosigner(2, t)), f.cosigner(0, t)), f.cosigner(1, t));
    const published = openPublishedCheckpoint(note, f.logKey, policy);
    expect(published.cosignatures.map((c) => c.timestamp)).toEqual([t / 1000, t / 1000, t / 1000]);
  });

  it("a cosignature with a flipped bit → LEDGER_COSIGNATURE_INVALID (even with a quorum besides it)", () => {
    const note = flipLastSignature(cosign(cosign(logSigned, c1), c2));
    expectCode(() => openPublishedCheckpoint(note, f.logKey, policy), "LEDGER_COSIGNATURE_INVALID");
    const all = flipLastSignature(cosign(cosign(cosign(logSigned, c1), c2), c3));
    expectCode(() => openPublishedCheckpoint(all, f.logKey, policy), "LEDGER_COSIGNATURE_INVALID");
  });

  it("a cosignature made over another checkpoint's text → LEDGER_COSIGNATURE_INVALID", () => {
    const other = cosign(f.logSigned(f.tree(12)), c2);
    const foreignLine = other.slice(other.lastIndexOf("\n", other.length - 2) + 1);
    const note = cosign(logSigned, c1) + foreignLine;
    expectCode(() => openPublishedCheckpoint(note, f.logKey, policy), "LEDGER_COSIGNATURE_INVALID");
  });

  it("a cosignature by a key that is not pinned → LEDGER_COSIGNER_UNKNOWN (it is not counted)", () => {
    const intruder = createCosigner(generateNoteKey("kenshin.example/intruder"), () => Date.now());
    const error = expectCode(
      () => openPublishedCheckpoint(cosign(cosign(logSigned, c1), intruder), f.logKey, policy),
      "LEDGER_COSIGNER_UNKNOWN",
    );
    expect(contextOf(error).cosigned).toEqual([c1.name]);
    expect(contextOf(error).unknown).toEqual([
      `${intruder.name}+${intruder.keyId.toString(16).padStart(8, "0")}`,
    ]);
  });

  it("a line that uses a pinned node's name with another key → LEDGER_COSIGNER_UNKNOWN", () => {
    const impostor = createCosigner(generateNoteKey(c2.name), () => Date.now());
    expectCode(
      () => openPublishedCheckpoint(cosign(cosign(logSigned, c1), impostor), f.logKey, policy),
      "LEDGER_COSIGNER_UNKNOWN",
    );
  });

  it("lines from unpinned keys are ignored when the quorum is met without them (signed-note)", () => {
    const intruder = createCosigner(generateNoteKey("kenshin.example/other-witness"), () => Date.now());
    const published = openPublishedCheckpoint(
      cosign(cosign(cosign(logSigned, intruder), c1), c2),
      f.logKey,
      policy,
    );
    expect(published.cosignatures.map((c) => c.name)).toEqual([c1.name, c2.name]);
  });

  it("the same node cosigning twice counts once → LEDGER_COSIGNER_DUPLICATE", () => {
    const again = f.cosigner(0, Date.now() + 5000);
    const error = expectCode(
      () => openPublishedCheckpoint(cosign(cosign(logSigned, c1), again), f.logKey, policy),
      "LEDGER_COSIGNER_DUPLICATE",
    );
    expect(contextOf(error).duplicates).toEqual([c1.name]);
    // With a second distinct node the quorum is met and the duplicate is still counted once.
    const ok = openPublishedCheckpoint(cosign(cosign(cosign(logSigned, c1), again), c2), f.logKey, policy);
    expect(ok.cosignatures.map((c) => c.name)).toEqual([c1.name, c2.name]);
  });

  it("one cosignature where two are required → LEDGER_COSIGNATURE_QUORUM; none at all too", () => {
    expectCode(
      () => openPublishedCheckpoint(cosign(logSigned, c2), f.logKey, policy),
      "LEDGER_COSIGNATURE_QUORUM",
    );
    expectCode(() => openPublishedCheckpoint(logSigned, f.logKey, policy), "LEDGER_COSIGNATURE_QUORUM");
    // The same note is published under a quorum of 1.
    expect(
      openPublishedCheckpoint(cosign(logSigned, c2), f.logKey, { ...policy, quorum: 1 }).checkpoint.size,
    ).toBe(11);
  });

  it("cosigned but not signed by the log → LEDGER_CHECKPOINT_UNSIGNED", () => {
    const text = logSigned.slice(0, logSigned.lastIndexOf("\n\n") + 2);
    const onlyWitnessed = cosign(cosign(cosign(`${text}— placeholder AAAAAAA=\n`, c1), c2), c3).replace(
      "— placeholder AAAAAAA=\n",
      "",
    );
    expectCode(() => openPublishedCheckpoint(onlyWitnessed, f.logKey, policy), "LEDGER_CHECKPOINT_UNSIGNED");
  });

  it("a log signature with a flipped bit → LEDGER_CHECKPOINT_SIGNATURE_INVALID", () => {
    const note = cosign(cosign(flipLastSignature(logSigned), c1), c2);
    expectCode(() => openPublishedCheckpoint(note, f.logKey, policy), "LEDGER_CHECKPOINT_SIGNATURE_INVALID");
  });

  it("the checkpoint text edited after signing → the signatures fail", () => {
    const note = cosign(cosign(logSigned, c1), c2).replace("\n11\n", "\n12\n");
    expectCode(() => openPublishedCheckpoint(note, f.logKey, policy), "LEDGER_CHECKPOINT_SIGNATURE_INVALID");
  });

  it("a cosignature dated beyond the allowed clock skew → LEDGER_COSIGNATURE_FUTURE (only with now)", () => {
    const now = new Date();
    const late = f.cosigner(1, now.getTime() + 3_600_000);
    const note = cosign(cosign(logSigned, c1), late);
    expectCode(() => openPublishedCheckpoint(note, f.logKey, policy, { now }), "LEDGER_COSIGNATURE_FUTURE");
    expect(openPublishedCheckpoint(note, f.logKey, policy).cosignatures).toHaveLength(2);
  });

  it("refuses an unusable policy before reading the note → LEDGER_COSIGNER_POLICY_INVALID", () => {
    const note = cosign(cosign(logSigned, c1), c2);
    const bad: CosignerPolicy[] = [
      { cosigners: f.cosignerKeys, quorum: 0 },
      { cosigners: f.cosignerKeys, quorum: 4 },
      { cosigners: f.cosignerKeys, quorum: 1.5 },
      // A type 0x01 key pinned as a cosigner.
      { cosigners: [f.logKey, ...f.cosignerKeys.slice(1)], quorum: 2 },
      // The same cosigner twice.
      { cosigners: [f.cosignerKeys[0] ?? f.logKey, f.cosignerKeys[0] ?? f.logKey], quorum: 2 },
      // A cosigner key that is the log's own public key under another name.
      {
        cosigners: [
          ...f.cosignerKeys,
          parseVerifierKey(
            createCosigner({ ...logKeyAsNoteKey(), name: "kenshin.example/x" }, Date.now).verifierKey,
          ),
        ],
        quorum: 2,
      },
    ];
    for (const p of bad)
      expectCode(() => openPublishedCheckpoint(note, f.logKey, p), "LEDGER_COSIGNER_POLICY_INVALID");
  });

  it("malformed input → LEDGER_NOTE_MALFORMED, never a crash", () => {
    for (const junk of ["", "\n\n", "a\nb\n\n— x\n", `${logSigned}garbage`]) {
      expectCode(() => openPublishedCheckpoint(junk, f.logKey, policy), "LEDGER_NOTE_MALFORMED");
    }
  });
});

/** The fixture's log key as a NoteKey (only its public key matters for the policy check). */
function logKeyAsNoteKey(): { name: string; seed: Uint8Array; publicKey: Uint8Array } {
  return { name: f.logKey.name, seed: new Uint8Array(32), publicKey: f.logKey.publicKey };
}

function contextOf(error: Error): Readonly<Record<string, unknown>> {
  return isCodedError(error) ? error.context : {};
}
