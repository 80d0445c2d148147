/**
 * Headless Chromium for the page tests (Debian's `chromium`, driven by playwright-core), with the
 * flags these machines need; one place for the path, the check and the launch.
 *
 * @module
 */
import type { Browser } from "playwright-core";

/** Where Debian installs Chromium (`apt-get install chromium`; .ci/run does it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed (page tests skip with a message otherwise). */
export const hasChromium: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/** Starts headless Chromium (no sandbox, GPU, background networking, component updates or sync). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
