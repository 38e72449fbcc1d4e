/**
 * What the console's browser tests share: Debian's chromium as playwright-core launches it (no
 * browser download), the skip reason when it is absent, and the watchdog that ends a test file's
 * process once its tests are done.
 */
import { after } from 'node:test';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const skipWithoutChromium = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install chromium; scripts/install-test-deps.sh installs it)`
  : false;

/**
 * Twice in CI runs (2 of 4) the e2e test passed and then its file's process stayed alive: two
 * pipes and two Unix sockets open, no timer left, so node's runner never saw the file end
 * (--test-force-exit did not help). Until that handle is found, a watchdog ends the process 5 s
 * after the file's tests are done — exit 0 only if `passed()` — and names what was still open.
 */
export function exitAfterTests(name: string, passed: () => boolean): void {
  after(() => {
    setTimeout(() => {
      process.stderr.write(
        `${name}: still alive 5 s after its tests, ending it; open: ${process.getActiveResourcesInfo().join(', ')}\n`,
      );
      process.exit(passed() ? 0 : 1);
    }, 5000).unref();
  });
}
