/**
 * Labels of the in-browser seal check (signature and RFC 3161 time stamp, web/src/seal-check.ts) on the
 * 検証 page and the transfer's trail. i18n.ts merges them.
 */
export const SEAL_DICT = {
  sealHeading: ["電子署名とタイムスタンプ", "Signature and time stamp"],
  sealChecking: ["電子署名とタイムスタンプを検証しています…", "Checking the signature and time stamp…"],
  sealSignatureOk: [
    "電子署名: 検証済み — このファイルは署名された時のままです。署名者 {signer}",
    "Signature: verified — this file is exactly as it was signed. Signer {signer}",
  ],
  sealSignatureFailed: [
    "電子署名: 検証失敗 — ファイルが署名と一致しないか、署名者を確認できません",
    "Signature: failed — the file does not match its signature, or the signer cannot be confirmed",
  ],
  sealSignatureNotChecked: [
    "電子署名: ファイルを「検証」ページで選ぶと、このブラウザで照合します",
    "Signature: choose the file on the Verify page to check it in this browser",
  ],
  sealStampOk: [
    "タイムスタンプ: 検証済み — {time} 日本時間 ({tsa})",
    "Time stamp: verified — {time} Japan time ({tsa})",
  ],
  sealStampFailed: [
    "タイムスタンプ: 検証失敗 — 時刻認証トークンを確認できません",
    "Time stamp: failed — the time-stamp token cannot be confirmed",
  ],
  sealNone: [
    "このファイルは送信確定前のため、電子署名はまだありません",
    "This file was not sent yet, so it has no signature",
  ],
  sealTrustChanged: [
    "注意: 署名の信頼点 (発行CA) が最初に記録したものと異なります。記録済みの信頼点で検証しています",
    "Warning: the signing trust anchors differ from the ones first recorded; the recorded ones are used",
  ],
  sealTrustUnavailable: [
    "署名の信頼点を取得できないため、電子署名とタイムスタンプを検証できません",
    "The signing trust anchors are unavailable, so the signature and time stamp cannot be checked",
  ],
  timelineRecordedLabel: ["時刻の証明", "Time proof"],
  timelineDeviceLabel: ["端末署名", "Device signature"],
  timelineChecking: ["署名と時刻を検証しています…", "Checking signers and times…"],
  timelineRecordedOk: [
    "記録時刻: 検証済み — {time} 日本時間 までに記録されたことをタイムスタンプ ({tsa}) で確認しました",
    "Recorded: verified — recorded by {time} Japan time, as the time stamp ({tsa}) shows",
  ],
  timelineRecordedFailed: [
    "記録時刻: 検証失敗 — 台帳のタイムスタンプと一致しません",
    "Recorded: failed — does not agree with the ledger's time stamp",
  ],
  timelineRecordedPending: [
    "記録時刻: 台帳のタイムスタンプがまだありません (しばらくして再読み込みすると確認できます)",
    "Recorded: the ledger's time stamp is not there yet (reload in a moment to check)",
  ],
  timelineSignerOk: [
    "署名者: 検証済み — {signer} (記録済みの発行CAの証明書、署名時点で有効)",
    "Signer: verified — {signer} (certificate from the recorded CA, valid when signed)",
  ],
  timelineSignerFailed: [
    "署名者: 検証失敗 — 署名者の証明書を確認できません",
    "Signer: failed — the signer's certificate cannot be confirmed",
  ],
  timelineDeviceSigned: [
    "端末署名: あり — 受付時にサーバーが照合しました。この記録には署名の対象が含まれていない (以前の形式) ため、このブラウザでは照合できません",
    "Device signature: present — checked by the server when the request came; this older entry does not hold what it covered, so this browser cannot re-check it",
  ],
  deviceSignatureOk: [
    "端末署名: 検証済み — 端末 {device} が {time} 日本時間 にこの操作を署名しました (台帳の公開鍵と署名対象で照合)",
    "Device signature: verified — device {device} signed this operation at {time} Japan time (checked against the key and request on the ledger)",
  ],
  deviceSignatureFailed: [
    "端末署名: 検証失敗 — 端末 {device} の署名が記録された操作と一致しません",
    "Device signature: failed — the signature of device {device} does not match the recorded operation",
  ],
  sealDeviceLabel: ["送信者の端末署名", "Sender's device signature"],
} as const satisfies Record<string, readonly [string, string]>;
