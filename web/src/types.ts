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

import type { TransferView } from "../../src/service/transfers/view.js";

export type { TransferStatus, TransferView } from "../../src/service/transfers/view.js";

export type IssueSeverity = "error" | "warning";

export interface Issue {
  readonly severity: IssueSeverity;
  readonly code: string;
  readonly row: number;
  readonly column?: string;
  readonly item?: string;
  readonly message: string;
}

/** For each item an issue names: its name in the standard and the export's columns it is read from. */
export type ItemLabels = Readonly<
  Record<string, { readonly name: string; readonly columns: readonly string[] }>
>;

/** GET /api/v1/transfers/{id}. */
export interface TransferDetail {
  readonly transfer: TransferView;
  readonly report: ConvertReport | null;
  readonly itemLabels: ItemLabels;
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
  readonly loginId: string | null;
  readonly lastLoginAt: string | null;
  readonly lockedUntil: string | null;
  readonly mustChangePassword: boolean | null;
  readonly mapping: { readonly name: string; readonly registeredAt: string } | null;
  readonly validCertificates: number;
}

export interface Device {
  readonly id: string;
  readonly label: string;
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
