/** kvctl's admin client reads node replies through the typed admin codec: a status result is checked, not cast. */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { internalAddressOf } from "../../lib/net/internal_address.ts";
import { Rpc } from "../../lib/wire/rpc.ts";
import { AdminClient } from "../../lib/admin/client.ts";
import { AdminCommand, type NodeResult } from "../../lib/admin/protocol.ts";

const ID = "0123456789abcdef".repeat(2);
const NODE = "10.0.0.1:4000";
const GOOD: NodeResult = {
  id: ID,
  node: NODE,
  status: "ok",
  exitCode: 0,
  startedAt: 1_700_000_000_000,
  command: { id: ID, kind: "run", selector: "all", issuedAt: 1_700_000_000_000, expiresAt: 1_700_003_600_000 },
};

/** A fake node whose status handler answers `result`, and kvctl's client; `ask` runs the query in virtual time. */
function setup(result: unknown) {
  const clock = new VirtualClock();
  const network = new MemoryNetwork(clock, { seed: 1 });
  const nodeSide = network.createTransport(internalAddressOf(NODE), NODE);
  const node = new Rpc(nodeSide, clock);
  nodeSide.onReceive((d, from) => node.receive(d, from));
  node.handle(AdminCommand.Status, () => ({ header: { result } }));
  const client = new AdminClient(network.createTransport("10.0.0.9:5000"), clock);
  const ask = async () => {
    let out: NodeResult | null | undefined | "pending" = "pending";
    client.status(NODE, ID).then((r) => out = r);
    for (let i = 0; i < 200 && out === "pending"; i++) {
      clock.advance(5);
      await new Promise((r) => setTimeout(r, 0));
    }
    return out;
  };
  return { ask, close: () => (client.close(), node.close()) };
}

Deno.test("admin client: a node's status result passes the result schema; a malformed one is no answer, a missing one null", async () => {
  for (
    const [result, expected] of [
      [GOOD, GOOD],
      [null, null],
      [{ ...GOOD, status: "great" }, undefined],
      [{ ...GOOD, id: "nope" }, undefined],
      [{ node: NODE }, undefined],
      ["ok", undefined],
    ] as const
  ) {
    const { ask, close } = setup(result);
    try {
      assert.deepEqual(await ask(), expected, JSON.stringify(result));
    } finally {
      close();
    }
  }
});
