/**
 * Every operation of the API, in the order the OpenAPI document lists its paths. A test keeps it and
 * the registered routes in step: every route is documented and every documented route exists.
 */
import { ADMIN_OPERATIONS } from "./admin-operations.js";
import type { Operation } from "./operation.js";
import { SESSION_OPERATIONS } from "./session-operations.js";
import { TRANSFER_OPERATIONS } from "./transfer-operations.js";

export const OPERATIONS: readonly Operation[] = [
  ...SESSION_OPERATIONS,
  ...ADMIN_OPERATIONS,
  ...TRANSFER_OPERATIONS,
];
