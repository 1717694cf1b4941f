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
} as const satisfies Record<string, readonly [string, string]>;
