import assert from "node:assert/strict";
import { realClock, VirtualClock } from "../lib/base/clock.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { sample, seededRandom } from "../lib/base/random.ts";
import { BURST_MAX_DATAGRAMS, UdpTransport } from "../lib/net/udp_transport.ts";
import { Rpc } from "../lib/wire/rpc.ts";
import { encodeFrame, readFrame } from "../lib/wire/frame.ts";
import { decodeJsonFrame, encodeJsonFrame } from "../lib/wire/envelope.ts";
import { sleep } from "./support/real_time.ts";
import { runUntil } from "./support/virtual_time.ts";

Deno.test("virtual clock fires timers in time order, skips cancelled ones", () => {
  const clock = new VirtualClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => fired.push("a"), 10);
  const c = clock.setTimeout(() => fired.push("c"), 15);
  clock.clearTimeout(c);
  clock.advance(5);
  assert.deepEqual(fired, []);
  clock.advance(30);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 35);
});

Deno.test("memory network: delivery, loss, partition and heal are deterministic by seed", () => {
  const run = (seed: number) => {
    const clock = new VirtualClock(0);
    const net = new MemoryNetwork(clock, { seed, loss: 0.3 });
    const a = net.createTransport("a:1"), b = net.createTransport("b:1");
    let got = 0;
    b.onReceive(() => got++);
    for (let i = 0; i < 1000; i++) a.send(new Uint8Array([i & 255]), "b:1");
    clock.advance(100);
    const lossy = got;
    net.conditions.loss = 0;
    net.partition(["a:1"], ["b:1"]);
    a.send(new Uint8Array(1), "b:1");
    clock.advance(100);
    const partitioned = got - lossy;
    net.heal();
    a.send(new Uint8Array(1), "b:1");
    clock.advance(100);
    a.close();
    b.close();
    return { lossy, partitioned, healed: got - lossy - partitioned };
  };
  const r = run(5);
  assert.ok(r.lossy > 600 && r.lossy < 800, `about 70% delivered, got ${r.lossy}`);
  assert.equal(r.partitioned, 0);
  assert.equal(r.healed, 1);
  assert.deepEqual(run(5), r, "same seed, same outcome");
});

Deno.test("sample picks distinct items", () => {
  const s = sample(seededRandom(1), [1, 2, 3, 4, 5], 3);
  assert.equal(new Set(s).size, 3);
});

Deno.test("real UDP transport sends and receives on loopback", async () => {
  const a = await UdpTransport.listen("127.0.0.1", 0);
  const b = await UdpTransport.listen("127.0.0.1", 0);
  try {
    const got = new Promise<[Uint8Array, string]>((resolve) => b.onReceive((d, from) => resolve([d, from])));
    a.send(new Uint8Array([1, 2, 3]), b.address);
    const [data, from] = await got;
    assert.deepEqual(data, new Uint8Array([1, 2, 3]));
    assert.equal(from, a.address);
    await assert.rejects(UdpTransport.listen("127.0.0.1", Number(b.address.split(":")[1])), /already in use/);
  } finally {
    a.close();
    b.close();
    await a.closed;
    await b.closed;
  }
});

Deno.test("real UDP transport: senders on one port but different hosts get their own address", async () => {
  const server = await UdpTransport.listen("127.0.0.1", 0);
  const first = await UdpTransport.listen("127.0.0.1", 0);
  const port = Number(first.address.split(":")[1]);
  let second: UdpTransport | undefined;
  try {
    second = await UdpTransport.listen("127.0.0.2", port);
  } catch {
    // 127.0.0.2 is not routable here: the cache is still exercised by the repeated sender below.
  }
  const senders = second ? [first, second, first] : [first, first];
  try {
    const seen: string[] = [];
    for (const s of senders) { // one at a time: each is seen before the next is sent
      const got = new Promise<string>((resolve) => server.onReceive((_d, from) => resolve(from)));
      s.send(new Uint8Array([1]), server.address);
      seen.push(await got);
    }
    assert.deepEqual(seen, senders.map((s) => s.address));
  } finally {
    for (const t of [server, first, second]) t?.close();
    for (const t of [server, first, second]) await t?.closed;
  }
});

Deno.test("rpc: call/reply with retries over a lossy network; malformed packets counted", async () => {
  const clock = new VirtualClock(0);
  const net = new MemoryNetwork(clock, { seed: 9, loss: 0.3 });
  const ta = net.createTransport("a:1"), tb = net.createTransport("b:1");
  const a = new Rpc(ta, clock), b = new Rpc(tb, clock);
  ta.onReceive((d, f) => a.receive(d, f));
  tb.onReceive((d, f) => b.receive(d, f));
  b.handle(0x30, (m) => ({ header: { echo: (m.header as { n: number }).n * 2 } }));
  let ok = 0;
  const calls = Array.from({ length: 50 }, (_, n) =>
    a.call("b:1", 0x30, { n }, undefined, { retries: 6 }).then((r) => {
      assert.equal((r.header as { echo: number }).echo, n * 2);
      ok++;
    }));
  // 50 ms ticks, one microtask round after each, for at most 50 s.
  await runUntil(clock, () => ok === 50, { tickMs: 50, settle: 1, limitMs: 50_000, what: "50 answered calls" });
  await Promise.all(calls);
  assert.equal(ok, 50);
  b.receive(new Uint8Array(30).fill(0x31), "x:1");
  assert.equal(b.stats.rejected.malformed, 1);
  assert.equal(decodeJsonFrame(encodeJsonFrame(0x40, { a: [1] }, new Uint8Array([7])))?.body[0], 7);
  a.close();
  b.close();
  ta.close();
  tb.close();
});

Deno.test("udp transport: a burst adds receives (handled in one turn), quiet traffic goes back to one", async () => {
  const t = await UdpTransport.listen("127.0.0.1", 0);
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let received = 0, most = 1;
  const { promise: burstDone, resolve } = Promise.withResolvers<void>();
  let want = 400;
  t.onReceive(() => {
    received++;
    most = Math.max(most, t.receivers);
    if (received === want) resolve();
  });
  try {
    assert.equal(t.receivers, 1, "idle: one receive waits");
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: Number(t.address.split(":")[1]) };
    const sends = Array.from({ length: 400 }, () => sender.send(new Uint8Array(20), to));
    await Promise.all(sends);
    await burstDone;
    assert.ok(most > 1, `a burst of 400 datagrams kept ${most} receive(s) waiting`);
    // Quiet traffic: each datagram far from the one before lets an extra receive end.
    want = received + 12;
    const { promise: quietDone, resolve: quietResolve } = Promise.withResolvers<void>();
    t.onReceive(() => {
      received++;
      if (received === want) quietResolve();
    });
    for (let i = 0; i < 12; i++) {
      await sleep(3);
      await sender.send(new Uint8Array(20), to);
    }
    await quietDone;
    assert.equal(t.receivers, 1, "after quiet traffic one receive waits again");
  } finally {
    sender.close();
    t.close();
    await t.closed;
  }
});

Deno.test("udp transport: afterBurst runs once the datagrams waiting together are handled, at most a burst's worth", async () => {
  const t = await UdpTransport.listen("127.0.0.1", 0);
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const log: string[] = [];
  const total = BURST_MAX_DATAGRAMS + 4;
  const { promise: ended, resolve } = Promise.withResolvers<void>();
  let handled = 0;
  t.onReceive((d) => {
    handled++;
    log.push(`d${d[0]}`);
    if (handled === 1) {
      // Hold the first handler until every datagram has surely arrived: they then wait together.
      const until = performance.now() + 30;
      while (performance.now() < until) { /* the others land in the socket meanwhile */ }
    }
    t.afterBurst(() => {
      log.push(`end@${handled}`);
      if (handled === total) resolve();
    });
  });
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: Number(t.address.split(":")[1]) };
    // Sent in one go: each send leaves at once, before this process handles any of them.
    await Promise.all(Array.from({ length: total }, (_, i) => sender.send(new Uint8Array([i, 0, 0]), to)));
    await ended;
    const firstEnd = log.findIndex((e) => e.startsWith("end@"));
    assert.equal(log[firstEnd], `end@${BURST_MAX_DATAGRAMS}`, `log: ${log.join(" ")}`);
    assert.equal(
      new Set(log.slice(0, firstEnd)).size,
      BURST_MAX_DATAGRAMS,
      "the first burst's datagrams are all handled before its end",
    );
    assert.equal(
      log.filter((e) => e === `end@${BURST_MAX_DATAGRAMS}`).length,
      BURST_MAX_DATAGRAMS,
      "one end, all hooks",
    );
    // Outside a burst the hook runs at the end of the turn.
    let ran = false;
    t.afterBurst(() => ran = true);
    assert.equal(ran, false);
    await Promise.resolve();
    assert.equal(ran, true);
  } finally {
    sender.close();
    t.close();
    await t.closed;
  }
});

Deno.test("rpc: answers to requests that arrive together leave in one frame", async () => {
  const b = await UdpTransport.listen("127.0.0.1", 0);
  const rb = new Rpc(b, realClock);
  let handled = 0;
  b.onReceive((d, f) => {
    if (handled++ === 0) {
      const until = performance.now() + 30; // every request frame lands meanwhile: they wait together
      while (performance.now() < until) { /* spin */ }
    }
    rb.receive(d, f);
  });
  rb.handleRaw(0x30, (p) => p);
  const peer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: Number(b.address.split(":")[1]) };
    // Six requests in six frames, sent in one go.
    await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => peer.send(encodeFrame([{ command: 0x30, callId: i + 1, payload: new Uint8Array([i]) }]), to),
      ),
    );
    const [answer] = await peer.receive();
    const answered: number[] = [];
    assert.equal(
      readFrame(answer, undefined, (command, callId) => command === 0x20 && answered.push(callId)),
      undefined,
    );
    assert.deepEqual(answered.sort(), [1, 2, 3, 4, 5, 6], "all six answers in the first frame");
    assert.equal(rb.stats.framesSent, 1);
  } finally {
    peer.close();
    rb.close();
    b.close();
    await b.closed;
  }
});
