import type { Command } from "commander";
import { CommanderError } from "commander";
import { isCodedError } from "../coded-error.js";
import { EXIT_UNUSABLE, exitCodeForError } from "./exit-codes.js";

/**
 * Runs the program and turns what escapes into a coded message on stderr and an exit code; never a
 * stack trace (set KENSHIN_DEBUG=1 to see one).
 */
export function runMain(build: () => Command, argv: readonly string[] = process.argv): void {
  // A reader that stops early (`kenshin map check … | head -1`) closes the pipe: that ends the output,
  // it is not an error of ours. Exit quietly, as other Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const program = build();
  program.parseAsync(argv).then(
    () => undefined,
    (error: unknown) => {
      process.exitCode = reportError(error);
    },
  );
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed its message; help and version exit 0.
    return error.exitCode === 0 ? 0 : EXIT_UNUSABLE;
  }
  if (process.env["KENSHIN_DEBUG"] === "1") console.error(error);
  if (isCodedError(error)) {
    process.stderr.write(`kenshin: ${error.code}: ${error.message}\n`);
    return exitCodeForError(error.code);
  }
  process.stderr.write(`kenshin: INTERNAL: 予期しないエラーが発生しました (${describe(error)})\n`);
  return EXIT_UNUSABLE;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
