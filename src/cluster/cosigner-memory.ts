/**
 * What a node must remember across restarts about checkpoints, kept in its own service.db: the last
 * checkpoint it cosigned (a witness never cosigns a head inconsistent with it, `checkpoint-cosigner.ts`)
 * and the last published note it took (so reads and proofs go on from it while etcd is unreachable).
 */
import type { ServiceDb } from "../store/service-db.js";
import type { CosignerState } from "./checkpoint-cosigner.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cluster_cosigned (
  id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS cluster_published (
  id INTEGER PRIMARY KEY CHECK (id = 1), note TEXT NOT NULL
) STRICT;
`;

export class CosignerMemory {
  readonly #db: ServiceDb;
  #last: CosignerState | undefined;

  constructor(db: ServiceDb) {
    this.#db = db;
    db.exec(SCHEMA);
    const row = db
      .prepare<[], { size: number; root: Buffer }>("SELECT size, root FROM cluster_cosigned WHERE id = 1")
      .get();
    this.#last = row === undefined ? undefined : { size: row.size, root: new Uint8Array(row.root) };
  }

  last(): CosignerState | undefined {
    return this.#last;
  }

  /** Durable before the cosignature leaves the node. */
  remember(state: CosignerState): void {
    this.#db
      .prepare(
        "INSERT INTO cluster_cosigned (id, size, root) VALUES (1, ?, ?) " +
          "ON CONFLICT (id) DO UPDATE SET size = excluded.size, root = excluded.root",
      )
      .run(state.size, Buffer.from(state.root));
    this.#last = state;
  }

  published(): string | undefined {
    return this.#db.prepare<[], { note: string }>("SELECT note FROM cluster_published WHERE id = 1").get()
      ?.note;
  }

  rememberPublished(note: string): void {
    this.#db
      .prepare(
        "INSERT INTO cluster_published (id, note) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET note = excluded.note",
      )
      .run(note);
  }
}
