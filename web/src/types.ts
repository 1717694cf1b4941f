/**
 * Shapes of the API's answers as the UI reads them (see openapi/openapi.json and the service's views).
 * Only what the pages use; the server remains the authority.
 */
export type Role = "sender" | "receiver" | "admin";

export interface SessionView {
  readonly loginId: string;
  readonly role: Role;
  readonly institution: { readonly id: string; readonly kind: string; readonly name: string };
  readonly csrfToken: string;
  readonly mustChangePassword: boolean;
  readonly expiresAt: string;
  readonly devices: number;
}

export type { TransferStatus, TransferView } from "../../src/service/transfer-view.js";

export type IssueSeverity = "error" | "warning";

export interface Issue {
  readonly severity: IssueSeverity;
  readonly code: string;
  readonly row: number;
  readonly column?: string;
  readonly item?: string;
  readonly message: string;
}

export interface ConvertReport {
  readonly counts: {
    readonly rowsIn: number;
    readonly rowsUsed: number;
    readonly rowsRejected: number;
    readonly rowsIgnored: number;
    readonly recordsOut: number;
  };
  readonly reconciled: boolean;
  readonly issueCounts: Readonly<Record<string, { readonly error: number; readonly warning: number }>>;
  readonly issuesTotal: number;
  readonly issuesTruncated: boolean;
  readonly issues: readonly Issue[];
}

export interface Institution {
  readonly id: string;
  readonly kind: "office" | "sender" | "receiver";
  readonly name: string;
  readonly number: string | null;
  readonly status: "active" | "disabled";
  readonly createdAt: string;
}

export interface Certificate {
  readonly serial: string;
  readonly institutionId: string;
  readonly loginId: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly revokedAt: string | null;
}
