/**
 * The one rule for a node's presence state (node-presence.ts presenceState): integrity first, then the
 * majority, then the lag with its two bounds.
 */
import { describe, expect, it } from "vitest";
import { presenceState, type PresenceFacts } from "./node-presence.js";

const online = (f: PresenceFacts, behind = false) => presenceState(f, { role: "online", behind });

describe("presenceState", () => {
  it("keeps a quarantined or repairing node quarantined whatever the quorum and lag say", () => {
    for (const health of ["quarantined", "repairing"] as const) {
      expect(online({ health, quorum: true, lag: 0 }).state).toBe("quarantined");
      expect(online({ health, quorum: false }).state).toBe("quarantined");
      expect(online({ health, quorum: true, lag: 500 }, true).state).toBe("quarantined");
    }
  });

  it("is read-only without a majority on an online node, serving on the offline node", () => {
    expect(online({ health: "healthy", quorum: false, lag: 0 }).state).toBe("read-only");
    expect(online({ health: "healthy", quorum: false }, true).state).toBe("read-only");
    expect(
      presenceState({ health: "healthy", quorum: false, lag: 0 }, { role: "offline", behind: false }).state,
    ).toBe("serving");
  });

  it("catches up from the start until near the head, and again only when far behind", () => {
    // At start (behind) with no lag known yet, and while the lag is above the caught-up bound.
    expect(online({ health: "healthy", quorum: true }, true)).toEqual({ state: "catching-up", behind: true });
    expect(online({ health: "healthy", quorum: true, lag: 30 }, true)).toEqual({
      state: "catching-up",
      behind: true,
    });
    expect(online({ health: "healthy", quorum: true, lag: 2 }, true)).toEqual({
      state: "serving",
      behind: false,
    });
    // A busy follower a few dozen batches behind stays serving; far behind it catches up again.
    expect(online({ health: "healthy", quorum: true, lag: 30 }, false)).toEqual({
      state: "serving",
      behind: false,
    });
    expect(online({ health: "healthy", quorum: true, lag: 65 }, false)).toEqual({
      state: "catching-up",
      behind: true,
    });
    // The lag rule remembers while the majority is gone: back with it, still catching up.
    const gone = online({ health: "healthy", quorum: false }, true);
    expect(gone).toEqual({ state: "read-only", behind: true });
    expect(online({ health: "healthy", quorum: true, lag: 40 }, gone.behind).state).toBe("catching-up");
  });

  it("shows the integrity side's own catching-up", () => {
    expect(online({ health: "catching-up", quorum: true, lag: 0 }).state).toBe("catching-up");
  });
});
