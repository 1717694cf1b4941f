/**
 * How a transfer looks to its parties: the shape of the API's transfer objects, shared by the service
 * and the browser UI (type-only, no imports, so the UI can compile it).
 */
export type TransferStatus = "converted" | "sent" | "downloaded" | "received" | "discarded" | "deleted";

export interface TransferView {
  readonly id: string;
  readonly sender: { readonly id: string; readonly name: string };
  readonly receiver: { readonly id: string; readonly name: string };
  readonly status: TransferStatus;
  readonly original: { readonly sha256: string; readonly bytes: number };
  readonly standard: { readonly sha256: string; readonly bytes: number } | null;
  readonly records: number | null;
  readonly rowsRejected: number | null;
  readonly createdAt: string;
  readonly sentAt: string | null;
  readonly downloadedAt: string | null;
  readonly receivedAt: string | null;
  readonly deletedAt: string | null;
  /** When the payload will be physically deleted (null once deleted or discarded). */
  readonly deleteAfter: string | null;
  /** True within the warning period before deletion (both parties see it in their lists). */
  readonly deletionSoon: boolean;
  /** True when its payload is bad on every copy (issue 11): it is never served; both parties see it. */
  readonly damaged: boolean;
  /**
   * True while one of its payload chunks is being repaired from a peer (issue 11): its downloads and
   * sends answer the retryable 503 TRANSFER_REPAIRING meanwhile; both parties see it.
   */
  readonly repairing: boolean;
}
