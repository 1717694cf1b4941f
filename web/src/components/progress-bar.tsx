/** A labelled <progress>: indeterminate while the total is unknown, with the percentage as text. */
import type { TransferProgress } from "../api.js";

export function ProgressBar(props: { label: string; progress: TransferProgress | undefined; text: string }) {
  const total = props.progress?.total;
  const known = total !== undefined && total > 0;
  return (
    <div class="progress">
      <progress
        aria-label={props.label}
        max={known ? total : undefined}
        value={known ? Math.min(props.progress?.loaded ?? 0, total) : undefined}
      />
      <span aria-live="polite">{props.text}</span>
    </div>
  );
}

/** Whole percent of a progress, 0 when unknown. */
export function percentOf(p: TransferProgress | undefined): number {
  if (p?.total === undefined || p.total <= 0) return 0;
  return Math.min(100, Math.floor((p.loaded / p.total) * 100));
}
