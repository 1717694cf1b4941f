/**
 * Attack 1 (issue 15): a burst of concurrent wrong passwords for one ID. Before the fix the failure
 * count was read before the slow argon2 check and written back as an absolute value, so all 40 guesses
 * were evaluated and a correct password in the same burst logged in. Now each attempt takes its place
 * in the count atomically before the password is checked; an ID that is locked, or whose places are all
 * taken by attempts in flight, is refused without evaluating the password. Real node, real TLS, real
 * SQLite, one TLS connection per attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, type ApiClient } from "../../src/client/api-client.js";
import {
  createReceiver,
  firstLogin,
  ledgerRecords,
  startTestNode,
  type IssuedTestAccount,
  type TestNode,
} from "../support/test-node.js";

const MAX_FAILURES = 5;
const BURST = 40;

let node: TestNode;
let office: ApiClient;
const targets: IssuedTestAccount[] = [];

beforeAll(async () => {
  node = await startTestNode({ config: { lockout: { maxFailures: MAX_FAILURES, minutes: 15 } } });
  office = node.client("office");
  const a = node.account("office");
  await firstLogin(office, a.loginId, a.password);
  for (const name of ["burst", "cert"]) targets.push(await createReceiver(office, `攻撃対象 ${name}`));
});

afterAll(async () => {
  await node.close();
});

function clientOf(account: IssuedTestAccount): ApiClient {
  return node.clientWith({ certPem: account.certPem, keyPem: account.keyPem });
}

describe("attack: concurrent password guessing against one ID", () => {
  it(`evaluates at most ${MAX_FAILURES} passwords of a ${BURST}-guess burst; the right one in the burst or after it is refused once locked`, async () => {
    const target = targets[0];
    if (!target) throw new Error("no target");
    const before = node.ctx.ledger.size();
    const attempts: Promise<{ status: number; code: string | undefined; correct: boolean }>[] = [];
    for (let i = 0; i < BURST; i++) {
      // The right password last: by the time it arrives the places are taken, whatever the timing.
      const correct = i === BURST - 1;
      const client = clientOf(target);
      attempts.push(
        client
          .login(target.loginId, correct ? target.temporaryPassword : `wrong-guess-${i}-Xy9!`)
          .then((r) => ({ status: r.status, code: errorCode(r), correct })),
      );
    }
    const answers = await Promise.all(attempts);
    // Only the attempts that took one of the places were evaluated (401 wrong, or 201 / the 5th's 423).
    const evaluated = answers.filter((a) => a.status === 401 || a.status === 201);
    expect(evaluated.length).toBeLessThanOrEqual(MAX_FAILURES - 1);
    expect(answers.filter((a) => a.status === 423).length).toBeGreaterThanOrEqual(BURST - MAX_FAILURES);
    for (const a of answers) expect([201, 401, 423]).toContain(a.status);
    // A wrong guess never logs in.
    expect(answers.filter((a) => a.status === 201 && !a.correct)).toEqual([]);
    // The right password at the end of the burst did not log in, nor does it after the burst.
    expect(answers.find((a) => a.correct)?.status).toBe(423);
    const late = await clientOf(target).login(target.loginId, target.temporaryPassword);
    expect({ status: late.status, code: errorCode(late) }).toEqual({ status: 423, code: "AUTH_LOCKED" });
    // The ledger holds one entry per attempt, and at most MAX_FAILURES wrong-password evaluations.
    const logins = ledgerRecords(node.ctx)
      .slice(before)
      .filter((r) => r.type === "login" && r.actor.id === target.loginId);
    expect(logins.length).toBeGreaterThanOrEqual(BURST);
    const wrong = logins.filter((r) => /^wrong password|^locked after/.test(r.outcomeDesc ?? ""));
    expect(wrong.length).toBeLessThanOrEqual(MAX_FAILURES);
  });

  it("answers a known ID presented with another institution's certificate exactly as an unknown ID (401 AUTH_FAILED), and records the real reason", async () => {
    const target = targets[1];
    if (!target) throw new Error("no target");
    const sender = node.client("sender");
    const before = node.ctx.ledger.size();
    const known = await sender.login(target.loginId, target.temporaryPassword);
    const unknown = await sender.login("R-9999-XXXXXX", target.temporaryPassword);
    expect({ status: known.status, code: errorCode(known) }).toEqual({ status: 401, code: "AUTH_FAILED" });
    expect({ status: unknown.status, code: errorCode(unknown) }).toEqual({
      status: 401,
      code: "AUTH_FAILED",
    });
    expect(known.text).toBe(unknown.text);
    const entries = ledgerRecords(node.ctx).slice(before);
    expect(entries.map((e) => e.outcomeDesc)).toContain("certificate of another institution");
    // The ID's own certificate still logs in: the mismatch was not counted as a wrong password.
    expect((await clientOf(target).login(target.loginId, target.temporaryPassword)).status).toBe(201);
  });
});
