/**
 * The release archive's tar format (lib/base/tar.ts): what the writer makes, GNU tar reads; what
 * the reader extracts stays inside its directory: absolute names, `..`, links, repeated names,
 * damaged headers, truncated archives and archives over the limits are refused.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { extractTar, RELEASE_TAR_LIMITS, tarChunks, type TarEntry, TarError, unsafeTarName } from "../lib/base/tar.ts";
import { concatBytes } from "../lib/base/bytes.ts";

const enc = new TextEncoder();

function tarBytes(entries: TarEntry[]): Uint8Array {
  return concatBytes(...tarChunks(entries));
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array<ArrayBuffer>> {
  // Odd-sized pieces, so headers and contents straddle reads.
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      const n = 77 + (at % 1000);
      c.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** The archive with the first header's name replaced by `name` and its type by `type` (checksum redone). */
function withHeader(name: string, type = "0"): Uint8Array {
  const t = tarBytes([{ name: "placeholder", mode: 0o644, data: enc.encode("x") }]);
  t.fill(0, 0, 100);
  t.set(enc.encode(name), 0);
  t[156] = type.charCodeAt(0);
  t.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += t[i];
  t.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return t;
}

async function extractInto(bytes: Uint8Array, limits = RELEASE_TAR_LIMITS): Promise<{ dir: string; names: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-tar-test-" });
  try {
    return { dir, names: await extractTar(streamOf(bytes), dir, limits) };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}

const ENTRIES: TarEntry[] = [
  { name: "kvctl", mode: 0o755, data: enc.encode("#!/bin/sh\necho hi\n") },
  { name: "runtime", mode: 0o755 },
  { name: "runtime/deno", mode: 0o755, data: new Uint8Array(70_000).map((_, i) => i * 7) },
  { name: "empty.txt", mode: 0o644, data: new Uint8Array(0) },
];

Deno.test("tar: written archives extract to the same files and modes, through gzip and in odd-sized reads", async () => {
  const gz = gzipSync(tarBytes(ENTRIES));
  const stream = streamOf(gz).pipeThrough(new DecompressionStream("gzip"));
  const dir = await Deno.makeTempDir({ prefix: "kvstore-tar-test-" });
  try {
    assert.deepEqual(await extractTar(stream, dir, RELEASE_TAR_LIMITS), [
      "kvctl",
      "runtime",
      "runtime/deno",
      "empty.txt",
    ]);
    assert.deepEqual(await Deno.readFile(`${dir}/runtime/deno`), ENTRIES[2].data);
    assert.equal(await Deno.readTextFile(`${dir}/kvctl`), "#!/bin/sh\necho hi\n");
    assert.equal((await Deno.stat(`${dir}/kvctl`)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(`${dir}/empty.txt`)).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(`${dir}/empty.txt`)).size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar: GNU tar lists what the writer wrote", async () => {
  const file = await Deno.makeTempFile({ suffix: ".tar.gz" });
  try {
    await Deno.writeFile(file, gzipSync(tarBytes(ENTRIES)));
    const out = await new Deno.Command("tar", { args: ["-tvzf", file] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.deepEqual(lines.map((l) => l.split(/\s+/).at(-1)), ["kvctl", "runtime/", "runtime/deno", "empty.txt"]);
    assert.match(lines[2], /^-rwxr-xr-x root\/root\s+70000 /);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("tar: names that could leave the directory are refused by the writer and the reader", async () => {
  for (const name of ["../evil", "a/../../evil", "/etc/passwd", "a//b", "./a", ""]) {
    assert.ok(unsafeTarName(name), name);
    assert.throws(() => tarBytes([{ name, mode: 0o644, data: enc.encode("x") }]), TarError, name);
  }
  for (const name of ["../evil", "a/../../evil", "/etc/passwd", "runtime/./x"]) {
    await assert.rejects(extractInto(withHeader(name)), /refused to extract/, name);
  }
  assert.equal(unsafeTarName("runtime/deno"), undefined);
});

Deno.test("tar: links, devices, repeated names, bad checksums, truncation and size limits are refused", async () => {
  await assert.rejects(extractInto(withHeader("link", "2")), /"link" is a symbolic link/);
  await assert.rejects(extractInto(withHeader("hard", "1")), /"hard" is a hard link/);
  await assert.rejects(extractInto(withHeader("dev", "3")), /of type '3'/);
  const one = tarBytes([{ name: "a", mode: 0o644, data: enc.encode("1") }]).subarray(0, 1024);
  await assert.rejects(extractInto(concatBytes(one, one, new Uint8Array(1024))), /"a" appears twice/);
  const damaged = tarBytes(ENTRIES);
  damaged[10] ^= 1;
  await assert.rejects(extractInto(damaged), /checksum does not match/);
  const whole = tarBytes(ENTRIES);
  await assert.rejects(extractInto(whole.subarray(0, 40_000)), /truncated/);
  await assert.rejects(extractInto(whole, { maxEntries: 2, maxBytes: 1 << 30 }), /more than 2 entries/);
  await assert.rejects(extractInto(whole, { maxEntries: 64, maxBytes: 1000 }), /more than 1000 bytes/);
});
