/**
 * The floor of the replicated request pattern: a process that moves exactly the datagrams a
 * 5-node cluster (N=3, W=2, R=2) moves for a client request, and does nothing else. It answers the
 * client protocol like a coordinator (a put goes to the key's other owners and is answered after W
 * acks, a get asks R owners with this node first), over the node's own wire: the same
 * {@linkcode UdpTransport}s (client port, and internal port = client port + 10000 for the frames),
 * frames of `lib/wire/frame.ts` tagged with the cluster keyring and stamped with a time and nonce
 * that the receiver checks (`lib/wire/freshness.ts`), batched per destination and turn. No store, reply cache, versions, timers or membership: what a cluster
 * node costs above this floor is the cost of its logic, and `bench:compare` shows both side by
 * side ("(f)" rows).
 *
 * Usage: deno run --allow-net scripts/wire_floor_server.ts --port P --peers A,B,C,D,E --key HEX
 * (the peers include this process's own address; their order places the keys). Prints
 * `floor listening on udp HOST:PORT` when ready; stops on SIGINT/SIGTERM.
 *
 * @module
 */
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import {
  Command,
  COMMAND_OFFSET,
  FIRST_INTERNAL_COMMAND,
  HEADER_LENGTH,
  ID_LENGTH,
  KEY_LENGTH,
  KEY_OFFSET,
  VALUE_OFFSET,
} from "../lib/wire/client_protocol.ts";
import { UdpTransport } from "../lib/net/udp_transport.ts";
import type { Address } from "../lib/net/transport.ts";
import {
  frameSize,
  nextStamp,
  randomSession,
  readFrame,
  sealFrame,
  writeFrameHeader,
  writeMessage,
} from "../lib/wire/frame.ts";
import { FreshnessGuard } from "../lib/wire/freshness.ts";
import { defaultInternalPort, InternalAddressBook } from "../lib/net/internal_address.ts";

const REPLICAS = 3;
const WRITE_QUORUM = 2;
const READ_QUORUM = 2;
const ASK = 0x30;
const ANSWER = 0x31;
/** Bytes a replica put carries besides the value (key, version, flags), about as the binary replica codec. */
const PUT_OVERHEAD = KEY_LENGTH + 24;

interface Waiting {
  id: Uint8Array;
  from: Address;
  need: number;
  get: boolean;
}

/**
 * Starts a floor server on `transport` for the cluster `peers` (this one included).
 *
 * @example
 * ```ts ignore
 * const t = await UdpTransport.listen("127.0.0.1", 0), i = await UdpTransport.listen("127.0.0.1", t.port + 10000);
 * const stop = serveFloor(t, i, [t.address], ClusterKeyring.fromHex(["ab".repeat(32)]));
 * stop();
 * ```
 */
export function serveFloor(
  transport: UdpTransport,
  internal: UdpTransport,
  peers: Address[],
  auth: ClusterKeyring,
): () => void {
  const self = peers.indexOf(transport.address);
  if (self < 0) throw new RangeError(`${transport.address} is not among the peers ${peers.join(", ")}`);
  const book = new InternalAddressBook();
  const internalPeers = peers.map((p) => book.toInternal(p));
  const guard = new FreshnessGuard();
  const fresh = (time: number, session: number, sequence: number) => {
    const v = guard.check(time, session, sequence, Date.now());
    return v === "fresh" ? undefined : v;
  };
  const queues = peers.map(() => ({
    session: randomSession(),
    sequence: 0,
    sizes: [] as number[],
    calls: [] as number[],
    commands: [] as number[],
  }));
  const waiting = new Map<number, Waiting>();
  const value = new Uint8Array(100);
  let nextCall = 1, scheduled = false;
  const flush = () => {
    scheduled = false;
    queues.forEach((q, to) => {
      if (q.sizes.length === 0) return;
      const bytes = q.sizes.reduce((a, b) => a + b, 0);
      const frame = new Uint8Array(frameSize(q.sizes.length, bytes, true));
      let o = writeFrameHeader(frame, auth, nextStamp(q, Date.now()));
      for (let i = 0; i < q.sizes.length; i++) {
        o = writeMessage(frame, o, q.commands[i], q.calls[i], new Uint8Array(q.sizes[i]));
      }
      sealFrame(frame, auth);
      q.sizes.length = q.calls.length = q.commands.length = 0;
      internal.send(frame, internalPeers[to]);
    });
  };
  const enqueue = (to: number, command: number, call: number, size: number) => {
    queues[to].sizes.push(size);
    queues[to].calls.push(call);
    queues[to].commands.push(command);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
  const reply = (w: Waiting) => {
    const r = new Uint8Array(HEADER_LENGTH + (w.get ? 2 + value.length : 0));
    r.set(w.id);
    if (w.get) {
      r[HEADER_LENGTH] = value.length & 0xff;
      r[HEADER_LENGTH + 1] = value.length >> 8;
      r.set(value, HEADER_LENGTH + 2);
    }
    transport.send(r, w.from);
  };
  const onClient = (packet: Uint8Array, from: Address) => {
    if (packet.length < KEY_OFFSET + KEY_LENGTH) return;
    const get = packet[COMMAND_OFFSET] === Command.Get;
    const first = (packet[KEY_OFFSET] ^ packet[KEY_OFFSET + 13] ^ packet[KEY_OFFSET + 29]) % peers.length;
    const owners = Array.from({ length: REPLICAS }, (_, i) => (first + i) % peers.length);
    const local = owners.includes(self);
    const remote = owners.filter((o) => o !== self);
    const asked = get ? remote.slice(0, local ? READ_QUORUM - 1 : READ_QUORUM) : remote;
    const call = nextCall++;
    waiting.set(call, { id: packet.slice(0, ID_LENGTH), from, need: (get ? READ_QUORUM : WRITE_QUORUM) - +local, get });
    const size = get ? KEY_LENGTH : PUT_OVERHEAD + Math.max(0, packet.length - VALUE_OFFSET);
    for (const o of asked) enqueue(o, ASK, call, size);
  };
  const onFrame = (packet: Uint8Array, from: Address) => {
    const sender = internalPeers.indexOf(from);
    readFrame(packet, auth, (command, call, payload) => {
      if (command === ASK && sender >= 0) {
        enqueue(sender, ANSWER, call, payload.length === KEY_LENGTH ? 24 + value.length : 3);
        return;
      }
      const w = waiting.get(call);
      if (command === ANSWER && w && --w.need === 0) {
        waiting.delete(call);
        reply(w);
      }
    }, fresh);
  };
  transport.onReceive((packet, from) => {
    if (packet.length < HEADER_LENGTH || packet[COMMAND_OFFSET] >= FIRST_INTERNAL_COMMAND) return;
    onClient(packet, from);
  });
  internal.onReceive((packet, from) => {
    if (packet.length >= HEADER_LENGTH) onFrame(packet, from);
  });
  return () => {
    transport.close();
    internal.close();
  };
}

if (import.meta.main) {
  const flag = (name: string) => {
    const i = Deno.args.indexOf(name);
    if (i < 0 || i + 1 >= Deno.args.length) {
      console.error(`wire_floor_server: ${name} is required (usage: --port P --peers A,B,… --key HEX)`);
      Deno.exit(2);
    }
    return Deno.args[i + 1];
  };
  const transport = await UdpTransport.listen("127.0.0.1", Number(flag("--port")));
  const internal = await UdpTransport.listen("127.0.0.1", defaultInternalPort(transport.port));
  const stop = serveFloor(transport, internal, flag("--peers").split(","), ClusterKeyring.fromHex([flag("--key")]));
  console.log(`floor listening on udp ${transport.address} (pid ${Deno.pid})`);
  const exit = () => {
    stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", exit);
  Deno.addSignalListener("SIGTERM", exit);
}
