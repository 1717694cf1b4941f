import { CodedError } from "../coded-error.js";

/**
 * Codes of the service layer. The server maps each to an HTTP status in one place
 * (`server/http-errors.ts`); messages are Japanese, for the people using the UI or CLI.
 */
export type ServiceErrorCode =
  | "SERVICE_DB_UNUSABLE"
  | "SERVICE_DATA_DIR_EXISTS"
  | "SERVICE_DATA_DIR_UNUSABLE"
  | "SERVICE_CONFIG_INVALID"
  | "AUTH_REQUIRED"
  | "AUTH_FAILED"
  | "AUTH_LOCKED"
  | "AUTH_ACCOUNT_DISABLED"
  | "AUTH_CERTIFICATE_MISMATCH"
  | "AUTH_CERTIFICATE_REVOKED"
  | "AUTH_PASSWORD_CHANGE_REQUIRED"
  | "AUTH_SESSION_EXPIRED"
  | "AUTH_CSRF_INVALID"
  | "AUTH_FORBIDDEN"
  | "PASSWORD_POLICY"
  | "PASSWORD_WRONG"
  | "DEVICE_NOT_REGISTERED"
  | "DEVICE_CONFIRMATION_REQUIRED"
  | "DEVICE_SIGNATURE_MALFORMED"
  | "DEVICE_SIGNATURE_INVALID"
  | "DEVICE_SIGNATURE_STALE"
  | "DEVICE_SIGNATURE_REPLAYED"
  | "DEVICE_KEY_INVALID"
  | "DEVICE_IN_USE"
  | "INSTITUTION_INVALID"
  | "INSTITUTION_EXISTS"
  | "ACCOUNT_EXISTS"
  | "MAPPING_REQUIRED"
  | "MAPPING_INVALID"
  | "LINK_INVALID"
  | "NOT_FOUND"
  | "SERVICE_BUSY"
  | "ENVELOPE_INVALID"
  | "ENVELOPE_CHANNEL_INVALID"
  | "UPLOAD_TOO_LARGE"
  | "UPLOAD_UNUSABLE"
  | "UPLOAD_INTERRUPTED"
  | "RECEIVER_NOT_LINKED"
  | "TRANSFER_STATE"
  | "INTEGRITY_FAILURE"
  /** The transfer's payload is bad on every copy (issue 11): never served (transfer-damage.ts). */
  | "TRANSFER_DAMAGED"
  /** A chunk of the transfer's payload is being repaired from a peer (issue 11): ask again shortly. */
  | "TRANSFER_REPAIRING"
  /** A `transfer.damage` mark for a transfer marked already (state-commands/damage-commands.ts). */
  | "TRANSFER_DAMAGE_KNOWN"
  | "BACKUP_INVALID"
  /** A disaster-drill rebuild refused its input (node-rebuild.ts; `reason` says why). */
  | "REBUILD_INVALID"
  | "REQUEST_INVALID"
  /** A presented file does not match its signature (detached JWS) or time stamp. */
  | "SIGNATURE_INVALID"
  /** A state command of a kind this node's applier registry does not know (a programming error). */
  | "STATE_COMMAND_UNKNOWN"
  /** A command this kind of node cannot apply (`kek.rotate` on the embedded node). */
  | "STATE_COMMAND_UNSUPPORTED";

export class ServiceError extends CodedError<ServiceErrorCode> {
  override readonly name = "ServiceError";
}
