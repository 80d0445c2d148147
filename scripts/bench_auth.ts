/**
 * `deno task bench:auth`: what authenticating one internal frame costs, measured in one run:
 * the cluster keyring (HMAC-SHA256 from @noble/hashes, keyed state cloned per tag) against
 * node:crypto's createHmac and WebCrypto's HMAC, for a small and a full batched frame.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { newClusterKey } from "../lib/wire/fleet_auth.ts";

/** Mean µs per call of `fn` over `ms` of calls (after a warm-up). */
async function perCall(fn: () => unknown | Promise<unknown>, ms = 300): Promise<number> {
  for (let i = 0; i < 2_000; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 200; i++) await fn();
    n += 200;
  }
  return ((performance.now() - t0) * 1_000) / n;
}

if (import.meta.main) {
  const hex = newClusterKey();
  const ring = ClusterKeyring.fromHex([hex]);
  const raw = Uint8Array.fromHex(hex);
  const web = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const tag = new Uint8Array(16);
  console.log("| frame | keyring sign µs | keyring verify µs | node:crypto µs | WebCrypto µs | WebCrypto ÷ keyring |");
  console.log("|---|---|---|---|---|---|");
  for (const size of [200, 1_400]) {
    const data = crypto.getRandomValues(new Uint8Array(size));
    const sign = await perCall(() => ring.sign(data, tag, 0));
    const verify = await perCall(() => ring.verify(data, ring.primaryKeyId, tag));
    const node = await perCall(() => createHmac("sha256", raw).update(data).digest());
    const webc = await perCall(() => crypto.subtle.sign("HMAC", web, data), 500);
    console.log(
      `| ${size} B | ${sign.toFixed(2)} | ${verify.toFixed(2)} | ${node.toFixed(2)} | ${webc.toFixed(2)} | ${
        (webc / sign).toFixed(1)
      }× |`,
    );
  }
}
