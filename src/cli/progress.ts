/**
 * A one-line progress bar on stderr, only when stderr is a terminal (never in logs or pipes).
 */
import type { ConvertProgress } from "../convert/engine.js";

const MIN_BYTES_FOR_BAR = 8 * 1024 * 1024;
const INTERVAL_MS = 200;

export interface ProgressBar {
  update(p: ConvertProgress, totalBytes: number): void;
  done(): void;
}

export function createProgressBar(
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): ProgressBar {
  let last = 0;
  let shown = false;
  const started = now();
  return {
    update(p, totalBytes) {
      if (!stream.isTTY || totalBytes < MIN_BYTES_FOR_BAR) return;
      const t = now();
      if (t - last < INTERVAL_MS) return;
      last = t;
      shown = true;
      const ratio = Math.min(1, p.bytesRead / totalBytes);
      const width = 30;
      const filled = Math.round(ratio * width);
      const seconds = Math.max(0.001, (t - started) / 1000);
      const mbps = p.bytesRead / 1e6 / seconds;
      stream.write(
        `\r変換中 [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ` +
          `${(p.bytesRead / 1e6).toFixed(1)}/${(totalBytes / 1e6).toFixed(1)} MB ${mbps.toFixed(1)} MB/s ` +
          `${p.recordsOut.toLocaleString("ja-JP")} 件`,
      );
    },
    done() {
      if (shown) stream.write("\n");
    },
  };
}
