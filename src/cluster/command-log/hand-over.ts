/**
 * The origin's side of handing commands to the sequencer directly (`handed-commands.ts`): to this node's
 * own sequencer in-process when it leads, otherwise over the peer endpoint to the node the election
 * names (`hand-over-route.ts`), commands handed meanwhile gathered into one request. Every failure —
 * leader unknown, not a peer we know, unreachable, a timeout, a bad answer — is "not-taken": the caller
 * then submits the command as a pending record, which settles whether a batch ordered it (the id
 * marker exists) or makes sure none will. Nothing here ever orders a command by itself.
 */
import type { Etcd3 } from "etcd3";
import type { PeerEndpoint } from "../peer/peer-client.js";
import { peerAgent, postJson } from "../peer/peer-post.js";
import type { PeerTls } from "../peer/peer-server.js";
import type { Command, LogKeys } from "./command-batch.js";
import { HAND_OVER_PATH, MAX_HANDED_PER_REQUEST } from "./hand-over-route.js";
import type { HandOverAnswer } from "./handed-commands.js";
import type { RunningSequencer } from "./sequencer.js";

export interface HandOverOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  /** This node's own sequencer, if it runs one. */
  readonly local: () => RunningSequencer | undefined;
  /** The other nodes' peer endpoints and this node's TLS identity (none: in-process only). */
  readonly peers?: { readonly endpoints: readonly PeerEndpoint[]; readonly tls: PeerTls };
  /** How long a hand-over waits for the leader's answer (default 8 s; then "not-taken"). */
  readonly timeoutMs?: number;
  /** How long the leader's name is believed before it is read again (default 1 s). */
  readonly leaderTtlMs?: number;
  /** How long a request gathers commands after its first one (default 2 ms). */
  readonly maxDelayMs?: number;
}

export interface HandOver {
  handOver(command: Command): Promise<HandOverAnswer>;
  close(): void;
}

/** `answer`, or "not-taken" if it has not come within `ms`. */
function within(ms: number, answer: Promise<HandOverAnswer>): Promise<HandOverAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<HandOverAnswer>((resolve) => {
    timer = setTimeout(() => {
      resolve("not-taken");
    }, ms);
    timer.unref();
  });
  return Promise.race([answer, late]).finally(() => {
    clearTimeout(timer);
  });
}

/** Hand-over requests one origin keeps out to one leader at once (its agent's sockets). */
const MAX_REQUESTS_OUT = 4;

export function createHandOver(o: HandOverOptions): HandOver {
  const timeoutMs = o.timeoutMs ?? 8000;
  const leaderTtlMs = o.leaderTtlMs ?? 1000;
  const maxDelayMs = o.maxDelayMs ?? 2;
  const agent = o.peers === undefined ? undefined : peerAgent(o.peers.tls, MAX_REQUESTS_OUT);
  let leader: { name: string | undefined; at: number } | undefined;
  let reading: Promise<string | undefined> | undefined;

  const leaderName = (): Promise<string | undefined> => {
    if (leader !== undefined && Date.now() - leader.at < leaderTtlMs) return Promise.resolve(leader.name);
    reading ??= o.client
      .election(o.keys.election)
      .leader()
      .then(
        (name) => {
          leader = { name, at: Date.now() };
          return name;
        },
        () => undefined,
      )
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  type Waiting = { command: Command; answer: (a: HandOverAnswer) => void };
  /**
   * Per leader: the commands being gathered and the requests out. A request goes `maxDelayMs` after the
   * oldest command waiting, or when full — but while {@link MAX_REQUESTS_OUT} are out, commands keep
   * gathering until one comes back (each answer waits for a batch to commit: without this an origin's
   * few connections carried one command each and the rest queued behind them).
   */
  type Lane = {
    peer: PeerEndpoint;
    open: Waiting[];
    out: number;
    due: boolean;
    timer: NodeJS.Timeout | undefined;
  };
  const lanes = new Map<string, Lane>();

  const post = async (peer: PeerEndpoint, group: Waiting[]): Promise<void> => {
    let answers: unknown;
    try {
      if (agent === undefined) throw new Error("no peer identity");
      const r = await postJson(
        agent,
        peer,
        HAND_OVER_PATH,
        group.map((w) => w.command),
        { timeoutMs, maxAnswerBytes: 64 * 1024 },
      );
      answers = r.status === 200 ? (r.answer as { answers?: unknown } | undefined)?.answers : undefined;
    } catch {
      answers = undefined;
    }
    const list = Array.isArray(answers) && answers.length === group.length ? (answers as unknown[]) : [];
    if (list.length === 0) leader = undefined;
    group.forEach((w, i) => {
      const a = list[i];
      w.answer(a === "sequenced" || a === "duplicate" ? a : "not-taken");
    });
  };

  const pump = (lane: Lane): void => {
    while (
      lane.out < MAX_REQUESTS_OUT &&
      lane.open.length > 0 &&
      (lane.due || lane.open.length >= MAX_HANDED_PER_REQUEST)
    ) {
      const group = lane.open.splice(0, MAX_HANDED_PER_REQUEST);
      if (lane.open.length === 0) lane.due = false;
      lane.out++;
      void post(lane.peer, group).finally(() => {
        lane.out--;
        pump(lane);
      });
    }
  };

  const remote = async (command: Command): Promise<HandOverAnswer> => {
    const name = await leaderName();
    const peer = o.peers?.endpoints.find((p) => p.name === name);
    if (name === undefined || name === o.nodeName || peer === undefined) return "not-taken";
    let lane = lanes.get(name);
    if (lane === undefined) {
      lane = { peer, open: [], out: 0, due: false, timer: undefined };
      lanes.set(name, lane);
    }
    const l = lane;
    return new Promise<HandOverAnswer>((answer) => {
      l.open.push({ command, answer });
      if (!l.due && l.timer === undefined) {
        l.timer = setTimeout(() => {
          l.timer = undefined;
          l.due = true;
          pump(l);
        }, maxDelayMs);
      }
      pump(l);
    });
  };

  return {
    async handOver(command) {
      const local = o.local();
      if (local?.isLeader() === true) {
        // Bounded like a remote one: the append's own deadline runs only once this returns.
        return within(
          timeoutMs,
          local.handOver([command]).then(([answer]) => answer ?? "not-taken"),
        );
      }
      return o.peers === undefined ? "not-taken" : remote(command);
    },
    close() {
      agent?.destroy();
    },
  };
}
