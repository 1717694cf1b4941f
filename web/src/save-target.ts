/**
 * Where a download is written as it arrives: a file the person chose with the File System Access API's
 * save picker (Chromium-based browsers), its writable stream fed chunk by chunk, so neither the page nor
 * the blob store holds the file. Where the picker does not exist the caller gathers the bytes in a Blob
 * (blob-spill.ts) and saves it through a link at the end, as before. The page offers the choice (on by
 * default from SAVE_AS_IT_ARRIVES_BYTES): a closed picker is a cancelled download.
 *
 * The writable stream writes to a temporary copy that replaces the file only on close(); abort() drops
 * it, so a cancelled or failed download leaves no partial file under the chosen name.
 */
import { ApiFailure } from "./api.js";

/** The part of the save picker used here (not in TypeScript's DOM library: Chromium only). */
interface SavePickerWindow {
  showSaveFilePicker?: (options: {
    suggestedName?: string;
    types?: { description?: string; accept: Record<string, string[]> }[];
  }) => Promise<FileSystemFileHandle>;
}

/** From this size of standard CSV the page offers writing it to a chosen file by default. */
export const SAVE_AS_IT_ARRIVES_BYTES = 100 * 1024 * 1024;

/** True where a download can be written to a chosen file as it arrives. */
export function canPickSaveTarget(): boolean {
  return typeof (window as SavePickerWindow).showSaveFilePicker === "function";
}

export interface SaveTarget {
  write(bytes: Uint8Array): Promise<void>;
  /** Keeps the file (everything written). */
  close(): Promise<void>;
  /** Drops what was written; the chosen file is left as it was. */
  abort(): Promise<void>;
}

/**
 * Asks where to save `fileName` (must run in the click's own task: the picker needs the gesture).
 * undefined when the browser has no picker; a closed picker is a CANCELLED failure.
 */
export async function pickSaveTarget(fileName: string): Promise<SaveTarget | undefined> {
  const picker = (window as SavePickerWindow).showSaveFilePicker;
  if (typeof picker !== "function") return undefined;
  let handle: FileSystemFileHandle;
  try {
    handle = await picker.call(window, {
      suggestedName: fileName,
      types: [{ description: "CSV", accept: { "text/csv": [".csv"] } }],
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError")
      throw new ApiFailure({ status: 0, code: "CANCELLED", text: "" });
    throw e;
  }
  const stream = await handle.createWritable();
  let ended = false;
  return {
    write: async (bytes) => {
      await stream.write(bytes as Uint8Array<ArrayBuffer>);
    },
    close: async () => {
      ended = true;
      await stream.close();
    },
    abort: async () => {
      if (ended) return;
      ended = true;
      await stream.abort().catch(() => undefined);
    },
  };
}
