import { expect } from "vitest";
import { isCodedError } from "../../src/coded-error.js";

/** Runs `fn` and asserts it throws a coded error with `code`; returns the error for further checks. */
export function expectCode(fn: () => unknown, code: string): Error {
  try {
    fn();
  } catch (error) {
    expect(isCodedError(error) ? error.code : error).toBe(code);
    return error as Error;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}
