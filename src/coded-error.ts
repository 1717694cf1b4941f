/**
 * The one shape every domain error takes: a stable machine code, a context object that is safe to log
 * (never personal data), and an optional cause. Each domain subclasses it with its own union of codes;
 * the CLI maps codes to exit codes in one place (`cli/exit-codes.ts`) and the server to HTTP status.
 * A subclass only narrows the code type and names itself:
 * `class FormatError extends CodedError<FormatErrorCode> { override readonly name = "FormatError"; }`.
 */
export abstract class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: Code,
    message: string,
    context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.context = context;
  }
}

/** True for any error raised by this project's domains (carries a `code`). */
export function isCodedError(value: unknown): value is CodedError {
  return value instanceof CodedError;
}
