/**
 * The receiver's notice of new arrivals: how many transfers were sent to this institution and not yet
 * downloaded. Re-read on every page change and after this page changed a transfer — deliberately not on a timer: a background poll would touch
 * the session and keep an unattended browser logged in past the idle time-out.
 */
import { useEffect, useState } from "preact/hooks";
import type { Api } from "./api.js";
import type { SessionView, TransferView } from "./types.js";

const TRANSFERS_CHANGED = "kenshin:transfers-changed";

/** Tells the notice that a transfer's status changed here (a download, a receipt). */
export function announceTransferChange(): void {
  dispatchEvent(new Event(TRANSFERS_CHANGED));
}

export function useNewArrivals(api: Api, session: SessionView | undefined, path: string): number {
  const [count, setCount] = useState(0);
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const bump = (): void => {
      setChanges((n) => n + 1);
    };
    addEventListener(TRANSFERS_CHANGED, bump);
    return () => {
      removeEventListener(TRANSFERS_CHANGED, bump);
    };
  }, []);
  const receiver = session?.role === "receiver";
  useEffect(() => {
    if (!receiver) {
      setCount(0);
      return;
    }
    let live = true;
    api
      .get<{ transfers: TransferView[] }>("/api/v1/transfers")
      .then((r) => {
        if (live) setCount(r.transfers.filter((t) => t.status === "sent").length);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [api, receiver, path, changes]);
  return count;
}
