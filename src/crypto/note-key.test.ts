import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectCode } from "../../test/ledger/expect-code.js";
import { openCheckpoint } from "../ledger/verify/checkpoint.js";
import { openSignedNote } from "../ledger/verify/signed-note.js";
import { appendSignatureLine } from "../ledger/verify/signed-note.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import { readKeyFile, writeKeyFile } from "./key-file.js";
import { formatNoteVerifierKey, formatSignerKey, generateNoteKey, parseSignerKey } from "./note-key.js";
import { createCosigner, createNoteSigner } from "./note-signer.js";

// golang.org/x/mod/sumdb/note example key and signed note (Ed25519 is deterministic, so we must match).
const GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe("note keys and signers", () => {
  it("reproduces the golang.org/x/mod/sumdb/note example byte for byte", () => {
    const key = parseSignerKey(GO_SKEY);
    expect(formatSignerKey(key)).toBe(GO_SKEY);
    expect(formatNoteVerifierKey(key)).toBe(GO_VKEY);
    const signer = createNoteSigner(key);
    expect(appendSignatureLine(`${GO_TEXT}\n`, signer.name, signer.keyId, signer.sign(GO_TEXT))).toBe(
      GO_NOTE,
    );
    expect(openSignedNote(GO_NOTE, [parseVerifierKey(GO_VKEY)]).text).toBe(GO_TEXT);
  });

  it("when one byte of the signed text changes → LEDGER_CHECKPOINT_SIGNATURE_INVALID", () => {
    expectCode(
      () => openSignedNote(GO_NOTE.replace("cryptography", "cryptographY"), [parseVerifierKey(GO_VKEY)]),
      "LEDGER_CHECKPOINT_SIGNATURE_INVALID",
    );
  });

  it("a note signed only by unknown keys → LEDGER_CHECKPOINT_UNSIGNED", () => {
    const other = formatNoteVerifierKey(generateNoteKey("PeterNeumann"));
    expectCode(() => openSignedNote(GO_NOTE, [parseVerifierKey(other)]), "LEDGER_CHECKPOINT_UNSIGNED");
  });

  it("a witness cosignature (type 0x04) verifies with its timestamp and fails when altered", () => {
    const log = createNoteSigner(generateNoteKey("example.com/log"));
    const witnessKey = generateNoteKey("witness.example/w1");
    const witness = createCosigner(witnessKey, () => 1_727_964_367_000);
    const text = `example.com/log\n5\n${Buffer.alloc(32, 7).toString("base64")}\n`;
    let note = appendSignatureLine(`${text}\n`, log.name, log.keyId, log.sign(text));
    note = appendSignatureLine(note, witness.name, witness.keyId, witness.sign(text));
    const { verified } = openCheckpoint(note, parseVerifierKey(log.verifierKey), [
      parseVerifierKey(witness.verifierKey),
    ]);
    expect(verified.map((v) => v.timestamp)).toEqual([undefined, 1_727_964_367]);
    // The log's own vkey (type 0x01) must not accept the cosignature line.
    const asLogKey = parseVerifierKey(formatNoteVerifierKey(witnessKey));
    expect(asLogKey.keyId).not.toBe(witness.keyId);
    // Flip a character inside the signature bytes (not the key ID, which would make it an unknown key).
    const at = note.length - 10;
    const tampered = note.slice(0, at) + (note[at] === "A" ? "B" : "A") + note.slice(at + 1);
    expectCode(
      () =>
        openCheckpoint(tampered, parseVerifierKey(log.verifierKey), [parseVerifierKey(witness.verifierKey)]),
      "LEDGER_COSIGNATURE_INVALID",
    );
  });

  it("key files are created 0600, never overwritten, and read back", () => {
    const dir = mkdtempSync(join(tmpdir(), "kenshin-key-"));
    const path = join(dir, "log.key");
    const key = generateNoteKey("kenshin.example/log");
    writeKeyFile(path, key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(formatSignerKey(readKeyFile(path))).toBe(formatSignerKey(key));
    expectCode(() => {
      writeKeyFile(path, generateNoteKey("x"));
    }, "CRYPTO_KEY_FILE_EXISTS");
    expectCode(
      () => parseSignerKey(formatSignerKey(key).replace(/\+([0-9a-f]{8})\+/, "+00000000+")),
      "CRYPTO_KEY_INVALID",
    );
  });
});
