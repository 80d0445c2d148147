/**
 * The shape of a signed admin command's body (zod), checked by `checkCommand` in `command.ts`, which
 * loads this file with the first command it checks: zod stays out of a node that receives none
 * (docs/performance.md, "Idle node cost").
 *
 * @module
 */
import { z } from "zod";
import { type CommandBody, MAX_PIECES } from "./command.ts";

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
const time = z.number().int().min(0).max(8.64e15);

const ADDRESS = /^(?:\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9._-]+):\d{1,5}$/;

const RunSchema = z.strictObject({
  script: z.string(),
  timeoutMs: z.number().int().min(1),
  restart: z.boolean().optional(),
  rollout: z.strictObject({
    order: z.array(z.string().max(300).regex(ADDRESS)).min(1).max(5_000),
    budgetMs: z.number().int().min(1_000).max(7 * 24 * 3_600_000).optional(),
  }).optional(),
  program: z.strictObject({
    path: z.string().min(1).max(1024),
    sha256: hex(64),
    signature: z.string().max(100).optional(),
  }).optional(),
});

const PushSchema = z.strictObject({
  path: z.string().min(1).max(1024),
  mode: z.number().int().min(0).max(0o7777),
  size: z.number().int().min(0).max(2 ** 50),
  sha256: hex(64),
  chunkSize: z.number().int().min(1024),
  pieces: z.array(hex(64)).max(MAX_PIECES),
});

const BodySchema = z.strictObject({
  v: z.literal(1),
  id: hex(32),
  kind: z.enum(["run", "push"]),
  issuedAt: time,
  expiresAt: time,
  selector: z.string().min(1).max(4096),
  run: RunSchema.optional(),
  push: PushSchema.optional(),
});

/**
 * Checks the shape of a command body; returns it typed, or the first field that is wrong.
 *
 * @example
 * ```ts
 * const r = parseCommandBody({ v: 2 });
 * console.log(r.ok); // false
 * ```
 */
export function parseCommandBody(raw: unknown): { ok: true; body: CommandBody } | { ok: false; message: string } {
  const parsed = BodySchema.safeParse(raw);
  if (parsed.success) return { ok: true, body: parsed.data as CommandBody };
  const i = parsed.error.issues[0];
  return { ok: false, message: `bad field ${i.path.join(".") || "(command)"}: ${i.message}` };
}
