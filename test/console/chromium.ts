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

/** The parts of playwright-core's API the helpers use (its types come with the dynamic import). */
interface PageLike {
  on(event: 'console', f: (m: { type(): string; text(): string }) => void): unknown;
  on(event: 'pageerror', f: (e: Error) => void): unknown;
  on(event: 'request', f: (r: { url(): string }) => void): unknown;
  goto(url: string): Promise<unknown>;
  getByLabel(text: string): { fill(v: string): Promise<void> };
  getByRole(
    role: 'button' | 'heading',
    o: { name: string | RegExp },
  ): {
    click(): Promise<void>;
    waitFor(): Promise<void>;
  };
}

/**
 * Sign a fresh page in at `base` with `key` and wait for the overview. `problems` collects every
 * console error or warning, page error and request off the server, which a test asserts empty.
 */
export async function signIn<P extends PageLike>(page: P, base: string, key: string): Promise<string[]> {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) problems.push(`request off the server: ${r.url()}`);
  });
  await page.goto(base + '/');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Overview/ }).waitFor();
  return problems;
}
