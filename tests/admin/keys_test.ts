/** Admin keys: the key file, the printed public key, SPKI, and clear refusals of garbage. */
import assert from "node:assert/strict";
import {
  AdminKeyError,
  generateAdminKeys,
  importAdminPrivateKey,
  importAdminPublicKey,
  publicKeyOf,
} from "../../lib/admin/keys.ts";
import { ConfigError, parseFleet } from "../../lib/config/fleet_file.ts";

Deno.test("keys: the key file gives back the printed public key; SPKI accepted; garbage rejected clearly", async () => {
  const keys = await generateAdminKeys();
  const priv = await importAdminPrivateKey(keys.privateKeyFile);
  assert.equal(await publicKeyOf(priv), keys.publicKey);
  const pub = await importAdminPublicKey(keys.publicKey);
  const spki = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.exportKey("spki", pub))));
  await importAdminPublicKey(spki);
  await assert.rejects(importAdminPublicKey("AAAA"), AdminKeyError);
  await assert.rejects(importAdminPrivateKey("# x\nnot-a-key"), /kvctl keygen/);
  const fleet = parseFleet(`adminPublicKey: ${keys.publicKey}\nnodes: [127.0.0.1:4000]\n`, "n.yaml");
  assert.equal(fleet.adminPublicKey, keys.publicKey);
  assert.throws(
    () => parseFleet(`adminPublicKey: hello\nnodes: [127.0.0.1:4000]\n`, "n.yaml"),
    (e) => e instanceof ConfigError && /line 1.*adminPublicKey.*kvctl keygen/.test(e.message),
  );
});
