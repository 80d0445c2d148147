/**
 * Where pushed files may go: only inside the node's admin directory
 * (`--admin-dir`), whatever path the manifest names.
 *
 * @module
 */

/**
 * Raised when a manifest's path points outside the admin directory.
 *
 * @example
 * ```ts
 * const e = new PathError("outside");
 * console.log(e.name); // "PathError"
 * ```
 */
export class PathError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PathError";
  }
}

/**
 * Normalizes a POSIX path (collapses `.`, `..`, repeated slashes); keeps it absolute if it was.
 *
 * @example
 * ```ts
 * console.log(normalizePath("/a/./b/../c")); // "/a/c"
 * ```
 */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0 || out[out.length - 1] === "..") {
        if (absolute) continue;
        out.push("..");
      } else out.pop();
    } else out.push(part);
  }
  return (absolute ? "/" : "") + out.join("/");
}

/**
 * Resolves a manifest path against the admin directory: relative paths are
 * taken inside it; absolute ones must already be inside it.
 *
 * @example
 * ```ts
 * console.log(resolveTarget("/srv/kv", "bin/node")); // "/srv/kv/bin/node"
 * ```
 */
export function resolveTarget(adminDir: string, path: string): string {
  const root = normalizePath(adminDir) || ".";
  const target = path.startsWith("/") ? normalizePath(path) : normalizePath(`${root}/${path}`);
  const prefix = root.endsWith("/") ? root : `${root}/`;
  if (!target.startsWith(prefix) || target.length <= prefix.length) {
    throw new PathError(`refused: ${path} is outside the admin directory ${adminDir}`);
  }
  if (target.split("/").some((p) => p === "..")) {
    throw new PathError(`refused: ${path} leaves the admin directory ${adminDir}`);
  }
  return target;
}
