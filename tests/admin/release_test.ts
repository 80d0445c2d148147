/**
 * Release archives on the admin side (lib/admin/release.ts): the detached signature verifies only
 * for the archive it was made for and the key that made it; a node unpacks only a signed archive
 * whose SHA-256 is the signed one, and restarts on its bundle and runtime (replacementArgv).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  checkReleaseArchive,
  parseReleaseSignature,
  releaseBundleSha256,
  ReleaseError,
  signRelease,
  unpackRelease,
  verifyReleaseSignature,
} from "../../lib/admin/release.ts";
import { importAdminPublicKey } from "../../lib/admin/keys.ts";
import { concatBytes } from "../../lib/base/bytes.ts";
import { fileSha256 } from "../../lib/base/program.ts";
import { tarChunks } from "../../lib/base/tar.ts";
import { replacementArgv } from "../../lib/admin/restart.ts";
import { makeKeys } from "./admin_keys.ts";
import { sha256Hex } from "../../lib/admin/chunk_store.ts";
import { kvctl } from "../support/child_processes.ts";

const enc = new TextEncoder();

/** A small archive shaped like a release (a bundle and a runtime), signed with a fresh key. */
async function signedArchive(dir: string, entries = ["kvstore.js", "runtime/deno"]) {
  const keys = await makeKeys();
  const archive = `${dir}/kvstore-9.9.9-linux-x64.tar.gz`;
  const files = entries.map((name) => ({ name, mode: 0o755, data: enc.encode(`contents of ${name}\n`) }));
  await Deno.writeFile(archive, gzipSync(concatBytes(...tarChunks(files))));
  const sha256 = await fileSha256(archive);
  const sigText = await signRelease(keys.privateKey, sha256, "kvstore-9.9.9-linux-x64.tar.gz");
  await Deno.writeTextFile(`${archive}.sig`, sigText);
  return {
    archive,
    sha256,
    sig: parseReleaseSignature(sigText),
    publicKey: await importAdminPublicKey(keys.publicKey),
  };
}

async function inTempDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-release-test-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("release signature: verifies for its archive and key; a changed archive, another key or no .sig are refused", async () => {
  await inTempDir(async (dir) => {
    const a = await signedArchive(dir);
    assert.equal(a.sig.sha256, a.sha256);
    assert.equal(a.sig.file, "kvstore-9.9.9-linux-x64.tar.gz");
    assert.equal((await checkReleaseArchive(a.archive, a.publicKey)).signature, a.sig.signature);
    const other = await importAdminPublicKey((await makeKeys()).publicKey);
    await assert.rejects(checkReleaseArchive(a.archive, other), /does not verify with the fleet's adminPublicKey/);
    assert.equal(await verifyReleaseSignature(other, a.sha256, a.sig.signature), false);
    const bytes = await Deno.readFile(a.archive);
    bytes[bytes.length >> 1] ^= 0x40;
    await Deno.writeFile(a.archive, bytes);
    await assert.rejects(checkReleaseArchive(a.archive, a.publicKey), /was changed after it was signed/);
    await Deno.remove(`${a.archive}.sig`);
    await assert.rejects(checkReleaseArchive(a.archive, a.publicKey), /no signature .*deno task release --key/);
    assert.throws(() => parseReleaseSignature("kvstore-admin-v1\n{}"), ReleaseError);
    assert.throws(() => parseReleaseSignature("kvstore-release-signature v1\nsha256 xyz\n"), /no valid "sha256"/);
  });
});

Deno.test("unpackRelease: extracts a signed archive next to it once; unsigned, other-key and changed archives are refused", async () => {
  await inTempDir(async (dir) => {
    const a = await signedArchive(dir);
    const u = await unpackRelease(a.archive, a.sha256, a.sig.signature, a.publicKey);
    assert.equal(u.dir, `${dir}/kvstore-9.9.9-linux-x64`);
    assert.equal(await Deno.readTextFile(u.program), "contents of kvstore.js\n");
    assert.equal(u.runtime, `${u.dir}/runtime/deno`);
    assert.equal(((await Deno.stat(u.runtime)).mode ?? 0) & 0o111, 0o111);
    assert.equal(await releaseBundleSha256(a.archive), sha256Hex(enc.encode("contents of kvstore.js\n")));
    // Again (a retried turn): the complete directory is reused.
    assert.deepEqual(await unpackRelease(a.archive, a.sha256, a.sig.signature, a.publicKey), u);

    await assert.rejects(unpackRelease(a.archive, a.sha256, undefined, a.publicKey), /without a signature/);
    await assert.rejects(unpackRelease(a.archive, a.sha256, a.sig.signature, undefined), /no adminPublicKey/);
    const other = await importAdminPublicKey((await makeKeys()).publicKey);
    await assert.rejects(unpackRelease(a.archive, a.sha256, a.sig.signature, other), /signature does not verify/);
    const bytes = await Deno.readFile(a.archive);
    bytes[bytes.length >> 1] ^= 0x40;
    await Deno.writeFile(a.archive, bytes);
    await assert.rejects(unpackRelease(a.archive, a.sha256, a.sig.signature, a.publicKey), /not the signed/);
  });
  await inTempDir(async (dir) => {
    const a = await signedArchive(dir, ["kvstore.js"]);
    await assert.rejects(unpackRelease(a.archive, a.sha256, a.sig.signature, a.publicKey), /has no runtime\/deno/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "kvstore-9.9.9-linux-x64.tar.gz",
      "kvstore-9.9.9-linux-x64.tar.gz.sig",
    ]);
  });
});

Deno.test("replacementArgv: an unpacked release swaps the runtime and the bundle, keeping the permission flags", () => {
  const argv = ["/rel/runtime/deno", "run", "--unstable-net", "--allow-net", "/rel/kvstore.js", "node", "--port", "9"];
  assert.deepEqual(
    replacementArgv(argv, {
      token: "ab12",
      mainPath: "/rel/kvstore.js",
      cwd: "/",
      compiled: false,
      program: "/a/bin/k/kvstore.js",
      runtime: "/a/bin/k/runtime/deno",
    }),
    [
      "/a/bin/k/runtime/deno",
      "run",
      "--unstable-net",
      "--allow-net",
      "/a/bin/k/kvstore.js",
      "node",
      "--port",
      "9",
      "--takeover",
      "ab12",
    ],
  );
});

Deno.test("kvctl upgrade and push of an archive: refused before sending when unsigned or signed by another key", async () => {
  await inTempDir(async (dir) => {
    const a = await signedArchive(dir);
    const ours = await makeKeys();
    await Deno.writeTextFile(`${dir}/admin.key`, ours.file);
    const args = ["--node", "127.0.0.1:9", "--key", `${dir}/admin.key`];
    // Signed with another key than kvctl's (no fleet file: kvctl checks against its own key's public half).
    let r = await kvctl(["upgrade", a.archive, ...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /kvctl upgrade: refused: .*does not verify with the fleet's adminPublicKey/);
    r = await kvctl(["push", a.archive, "--to", "bin/k.tar.gz", ...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /kvctl push: refused: .*does not verify/);
    await Deno.remove(`${a.archive}.sig`);
    r = await kvctl(["upgrade", a.archive, ...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /kvctl upgrade: refused: no signature .*deno task release --key admin\.key/);
  });
});
