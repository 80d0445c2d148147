/**
 * Reading a child process's output (or any byte stream) line by line.
 *
 * @module
 */

/**
 * Calls `onLine` with each line of a UTF-8 byte stream, without its newline; a last line with no
 * newline is delivered too. Resolves when the stream ends.
 *
 * @example
 * ```ts
 * const stream = new Blob(["one\ntwo"]).stream();
 * await forEachLine(stream, (line) => console.log(line)); // "one", then "two"
 * ```
 */
export async function forEachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  let buf = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  }
  buf += decoder.decode();
  if (buf.length > 0) onLine(buf);
}
