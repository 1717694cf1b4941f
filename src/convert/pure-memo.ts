/**
 * A small memo for the engine's pure text steps (和暦 dates, thesaurus look-ups): the same short text
 * recurs on thousands of rows of an export (受診日, 生年月日, 「異常なし」), and its result is the same
 * every time. Only short keys are kept, and the memo is emptied when it is full, so hostile input (a
 * million distinct or huge values) costs at most its limit in memory and one look-up per value.
 */
const MAX_KEY_LENGTH = 64;
const MAX_ENTRIES = 4096;

export class PureMemo<T> {
  private readonly map = new Map<string, T>();
  private readonly make: (key: string) => T;

  constructor(make: (key: string) => T) {
    this.make = make;
  }

  /** `make(key)`, from the memo when it was made before. Results are shared: never change them. */
  get(key: string): T {
    if (key.length > MAX_KEY_LENGTH) return this.make(key);
    let value = this.map.get(key);
    if (value === undefined) {
      if (this.map.size >= MAX_ENTRIES) this.map.clear();
      value = this.make(key);
      this.map.set(key, value);
    }
    return value;
  }
}
