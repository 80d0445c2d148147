/**
 * Monitoring rounds: the round book (coverage, arrival times, spread, accept window), the round header
 * (parsing, MAC) and the rumor mongering that spreads a round through the nodes.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { RoundBook } from "../../lib/monitoring/server/rounds.ts";
import { RoundGossip } from "../../lib/monitoring/agent/round_gossip.ts";
import { parseRoundHeader, type RoundHeader, signRound, verifyRound } from "../../lib/monitoring/round_message.ts";
import { StaticMembers } from "../../lib/node/members.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { testKey } from "./signed_reports.ts";
import { waitUntil } from "../support/real_time.ts";

Deno.test("round book: coverage, arrival times, spread, accept window", () => {
  const book = new RoundBook({ keep: 3, accept: 2 });
  const r1 = book.start("00000000000000a1", 1_000, 4, ["n1"], 0);
  assert.equal(r1.index, 1);
  assert.ok(book.record(r1.id, 1_100, 1, 50));
  assert.ok(book.record(r1.id, 1_300, 3, 100));
  assert.ok(book.record(r1.id, 1_200, 2, 0));
  let s = book.latest()!;
  assert.equal(s.reported, 3);
  assert.equal(s.coverage, 0.75);
  assert.equal(s.t50, 200, "2 of 4 after 200 ms");
  assert.equal(s.t90, undefined, "90 % never reached");
  assert.equal(s.tAll, undefined);
  assert.equal(s.spreadMax, 200);
  assert.equal(s.hopsMax, 3);
  assert.equal(s.hopsMean, 2);
  book.record(r1.id, 1_400, 1, 0);
  assert.equal(book.latest()!.tAll, 400);
  book.start("00000000000000a2", 2_000, 4, [], 0);
  assert.ok(book.open(r1.id), "still accepted one round later");
  book.start("00000000000000a3", 3_000, 4, [], 0);
  assert.equal(book.open(r1.id), undefined, "closed after `accept` newer rounds");
  assert.equal(book.record(r1.id, 3_100, 1, 0), false);
  s = book.list().at(-1)!;
  assert.equal(s.id, r1.id);
  assert.equal(s.tAll, 400, "summary kept after closing");
  book.start("00000000000000a4", 4_000, 4, [], 0);
  assert.equal(book.list().length, 3, "bounded");
  assert.equal(book.lastClosed()!.id, "00000000000000a3");
});

Deno.test("round header: parsing rejects malformed fields; MAC covers id, URL and jitter", async () => {
  const h: RoundHeader = { r: "0011223344556677", u: "http://127.0.0.1:8080/api/report", j: 100, h: 2 };
  assert.deepEqual(parseRoundHeader(h), h);
  for (
    const bad of [{ ...h, r: "xyz" }, { ...h, u: "ftp://x" }, { ...h, j: -1 }, { ...h, h: 1.5 }, { ...h, m: "00" }, 7]
  ) {
    assert.equal(parseRoundHeader(bad), null, JSON.stringify(bad));
  }
  const key = await testKey();
  const signed = await signRound(key, h);
  assert.equal(await verifyRound(key, signed), true);
  assert.equal(await verifyRound(key, { ...signed, h: 9 }), true, "hop count is not covered");
  assert.equal(await verifyRound(key, { ...signed, j: 101 }), false);
});

Deno.test("rumor mongering: first receipt reports once, duplicates ignored, seen set bounded, stops", async () => {
  const clock = new VirtualClock();
  const members = new StaticMembers("a:1", ["b:1", "c:1", "d:1", "e:1"]);
  const sent: [string, RoundHeader][] = [];
  const firsts: string[] = [];
  const g = new RoundGossip({ fanout: 2, stopProbability: 0.5, stepIntervalMs: 10, seenRounds: 3 }, {
    members,
    clock,
    random: seededRandom(1),
    send: (to, header) => sent.push([to, header]),
    onFirstReceipt: (header) => firsts.push(header.r),
  });
  const h = (r: string): RoundHeader => ({ r, u: "http://m/api/report", j: 0, h: 4 });
  g.receive(h("00000001"), "b:1");
  g.receive(h("00000001"), "c:1");
  assert.deepEqual(firsts, ["00000001"]);
  assert.equal(g.stats.duplicates, 1);
  assert.equal(sent.length, 2, "first push: fan-out 2 at once");
  assert.ok(sent.every(([to, hd]) => to !== "a:1" && to !== "b:1" && hd.h === 5), "not to self or sender; hop + 1");
  clock.advance(10_000);
  assert.ok(sent.length % 2 === 0 && sent.length <= 2 * g.config.maxSteps, "stops after a few steps");
  const afterStop = sent.length;
  clock.advance(10_000);
  assert.equal(sent.length, afterStop, "no pushes once stopped");
  for (const r of ["00000002", "00000003", "00000004"]) g.receive(h(r), "b:1");
  g.receive(h("00000001"), "b:1");
  assert.equal(firsts.filter((r) => r === "00000001").length, 2, "forgotten once more than seenRounds newer ids");
  // With a verifier, a forged round (bad MAC) is dropped.
  const key = await testKey();
  const verified: string[] = [];
  const v = new RoundGossip({}, {
    members,
    clock,
    random: seededRandom(2),
    send: () => {},
    verify: (hd) => verifyRound(key, hd),
    onFirstReceipt: (hd) => verified.push(hd.r),
  });
  v.receive(h("000000aa"), "b:1");
  v.receive(await signRound(key, h("000000bb")), "b:1");
  // WebCrypto verifies asynchronously: poll until both datagrams are decided.
  await waitUntil(() => v.stats.rejected + v.stats.rounds === 2, { timeoutMs: 2_000, what: "both rounds verified" });
  assert.deepEqual(verified, ["000000bb"]);
  assert.equal(v.stats.rejected, 1);
  g.close();
  v.close();
});
