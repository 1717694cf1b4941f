/**
 * One documented API operation: the row of the route table the OpenAPI document is built from
 * (openapi.ts). A test keeps the table and the registered routes in step.
 */
import type { z } from "zod";

/** One method + path of the API, as the OpenAPI document describes it. */
export interface Operation {
  readonly method: "get" | "post" | "delete";
  readonly path: string;
  readonly summary: string;
  /** none: TLS client certificate only; session: + session cookie; change: + CSRF token and device signature. */
  readonly auth: "certificate" | "session" | "change" | "change-no-device";
  readonly role?: "admin";
  readonly body?: z.ZodType;
  readonly ok: number;
  readonly okContent?: "json" | "csv" | "text" | "binary" | "none";
  readonly errors: readonly string[];
  /** Optional query parameters (string enums). */
  readonly query?: readonly {
    readonly name: string;
    readonly description: string;
    readonly values: readonly string[];
  }[];
}
