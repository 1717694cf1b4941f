/**
 * The one place where outcomes become exit codes:
 * 0 success · 1 completed with row-level issues or failed verification · 2 unusable input or configuration.
 */
export const EXIT_OK = 0;
export const EXIT_ISSUES = 1;
export const EXIT_UNUSABLE = 2;

export type ExitCode = typeof EXIT_OK | typeof EXIT_ISSUES | typeof EXIT_UNUSABLE;

/**
 * Exit code for an error code thrown out of a command. A failed verification (codes starting with
 * `VERIFY_`) is exit 1; any other coded error that escapes a command means the input or configuration
 * could not be used. Commands that complete with row-level issues return `EXIT_ISSUES` themselves.
 */
export function exitCodeForError(code: string): ExitCode {
  return code.startsWith("VERIFY_") ? EXIT_ISSUES : EXIT_UNUSABLE;
}
