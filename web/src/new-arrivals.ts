/**
 * The receiver's notice of new arrivals: how many transfers were sent to this institution and not yet
 * downloaded. Re-read on every page change and once a minute while the page is open (a list call is
 * cheap and carries no result data).
 */
import { useEffect, useState } from "preact/hooks";
import type { Api } from "./api.js";
import type { SessionView, TransferView } from "./types.js";

const POLL_MS = 60_000;

export function useNewArrivals(api: Api, session: SessionView | undefined, path: string): number {
  const [count, setCount] = useState(0);
  const receiver = session?.role === "receiver";
  useEffect(() => {
    if (!receiver) {
      setCount(0);
      return;
    }
    let live = true;
    const read = (): void => {
      api
        .get<{ transfers: TransferView[] }>("/api/v1/transfers")
        .then((r) => {
          if (live) setCount(r.transfers.filter((t) => t.status === "sent").length);
        })
        .catch(() => undefined);
    };
    read();
    const timer = setInterval(read, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api, receiver, path]);
  return count;
}
