// Headless Chromium for the tests whose subject is what a browser does (CORS, popups, pages), from the
// Debian package (`apt-get install chromium`; .ci/run installs it).
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** Why a browser test cannot run here, or false. */
export const noChromium = !existsSync(CHROMIUM) && `chromium is not installed (${CHROMIUM})`;

/** Headless Chromium that does nothing on the network of its own accord (updates, sync, QUIC). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
