/**
 * A tiny history router: the current path as state, and navigation by pushState. The server answers
 * every client route with index.html, so reloading or bookmarking any page works.
 */
import { useEffect, useState } from "preact/hooks";

const NAVIGATE = "kenshin:navigate";

export function navigate(path: string, o: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (o.replace === true) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  dispatchEvent(new Event(NAVIGATE));
}

/** The current path; re-renders on navigation and on the browser's back and forward buttons. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = (): void => {
      setPath(location.pathname);
    };
    addEventListener("popstate", update);
    addEventListener(NAVIGATE, update);
    return () => {
      removeEventListener("popstate", update);
      removeEventListener(NAVIGATE, update);
    };
  }, []);
  return path;
}
