/**
 * What every page after login shares: the API client, the session, the verifier-key pin.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api } from "./api.js";
import type { SessionView } from "./types.js";
import type { PinState } from "./verifier-pin.js";

export interface AppState {
  readonly api: Api;
  readonly session: SessionView;
  readonly pin: PinState;
}

export const AppContext = createContext<AppState | undefined>(undefined);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (state === undefined) throw new Error("useApp outside a signed-in page");
  return state;
}
