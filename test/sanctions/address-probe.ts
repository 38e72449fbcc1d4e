// Child process for test/sanctions/linear.test.ts: validates long "addresses" and prints the
// milliseconds each took, one JSON line per case. A child, so a validator that goes quadratic
// again is killed at the test's time limit instead of blocking the test runner for hours.
import { checkAddress } from '../../src/sanctions/address.js';

const [casesJson, length] = process.argv.slice(2);
const cases = JSON.parse(casesJson) as [coin: string, prefix: string, alphabet: string][];
for (const [coin, prefix, alphabet] of cases) {
  const n = Number(length) - prefix.length;
  const chars: string[] = [];
  let s = 7;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    chars.push(alphabet[s % alphabet.length]);
  }
  const address = prefix + chars.join('');
  const t = performance.now();
  const r = checkAddress(coin, address);
  const ms = performance.now() - t;
  process.stdout.write(JSON.stringify({ coin, prefix, ms, valid: r.valid, problem: r.problem }) + '\n');
}
