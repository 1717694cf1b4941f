/**
 * What to tell a person about a failed request. In Japanese the server's own text is used (it is written
 * for these users and, for a lock-out, names the time); in English a short text per code, with the
 * lock-out time taken from the server's text. Unknown codes fall back to the server's text and the code.
 */
import type { ApiError } from "./api.js";
import type { Lang } from "./i18n.js";

const JA_FALLBACK: Readonly<Record<string, string>> = {
  NETWORK: "サーバーに接続できません。ネットワークとクライアント証明書を確認してください。",
  UNEXPECTED: "思わぬ問題が発生しました。ページを読み込み直してください。",
  AUTH_SESSION_EXPIRED:
    "一定時間操作がなかったため、ログインの有効期限が切れました。もう一度ログインしてください。",
};

const EN: Readonly<Record<string, string>> = {
  NETWORK: "Cannot reach the server. Check the network and your client certificate.",
  UNEXPECTED: "Something unexpected went wrong. Please reload the page.",
  AUTH_FAILED: "Wrong user ID or password.",
  AUTH_REQUIRED: "Please log in.",
  AUTH_SESSION_EXPIRED: "Your session has expired. Please log in again.",
  AUTH_ACCOUNT_DISABLED: "This user ID is disabled. Please contact the office.",
  AUTH_CERTIFICATE_MISMATCH: "This client certificate does not belong to this user ID's institution.",
  AUTH_FORBIDDEN: "You are not allowed to do this.",
  AUTH_PASSWORD_CHANGE_REQUIRED: "Please change your temporary password first.",
  AUTH_CSRF_INVALID: "The page is out of date. Please reload it.",
  PASSWORD_WRONG: "The current password is wrong.",
  PASSWORD_POLICY: "The new password does not meet the rules.",
  DEVICE_NOT_REGISTERED: "This device is not registered for this user ID.",
  DEVICE_SIGNATURE_INVALID: "The device signature was refused. Please reload the page.",
  DEVICE_IN_USE: "The device you are using cannot remove itself. Remove it from another device.",
  DEVICE_CONFIRMATION_REQUIRED: "This user ID is already used on another device.",
  NOT_FOUND: "Not found.",
  TRANSFER_STATE: "This transfer is not in a state that allows this.",
  RECEIVER_NOT_LINKED: "You cannot send to this receiver.",
  MAPPING_REQUIRED: "No mapping file is registered for your institution.",
  MAPPING_INVALID: "The mapping file is not valid.",
  UPLOAD_TOO_LARGE: "The file is too large.",
  UPLOAD_UNUSABLE: "The file could not be read.",
  INSTITUTION_INVALID: "The institution details are not valid.",
  INSTITUTION_EXISTS: "An institution with this number already exists.",
  ACCOUNT_EXISTS: "This institution already has a user ID.",
  LINK_INVALID: "Only a sender can be linked to a receiver.",
  REQUEST_INVALID: "Please check what you entered.",
  INTEGRITY_FAILURE: "An integrity check failed on the server. Please contact the office.",
  TRANSFER_DAMAGED:
    "This file is damaged on every copy and cannot be recovered. Ask the sending institution to send it again.",
  TRANSFER_REPAIRING: "This file is being repaired from another copy. Please try again shortly.",
};

/** One sentence for the person. */
export function errorText(error: ApiError, lang: Lang): string {
  if (lang === "ja") return error.text || JA_FALLBACK[error.code] || `エラー (${error.code})`;
  if (error.code === "AUTH_LOCKED") {
    const time = /\d{1,2}:\d{2}/.exec(error.text)?.[0];
    return time === undefined
      ? "Too many failed logins: this user ID is locked for a while. If it is urgent, ask the office to unlock it."
      : `Too many failed logins: this user ID is locked until ${time} (Japan time). If it is urgent, ask the office to unlock it.`;
  }
  if (error.code === "AUTH_FAILED" && error.attemptsLeft === 1) {
    return "Wrong user ID or password. One more wrong attempt locks this user ID for a while; if you have forgotten the password, ask the office to reset it.";
  }
  return EN[error.code] ?? (error.text ? `${error.text} (${error.code})` : `Error (${error.code})`);
}
