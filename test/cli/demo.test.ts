// The README's main job, end to end: real captures, then the 2017 scenario through NetFlow v9 over
// loopback UDP, the live collector, detection, series, surge, estimates and the report. Checks the
// report against the scenario's ground truth (onset, miners, wallets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('npm run demo: the report names the onset, the miners and their wallets', { timeout: 600_000 }, (t) => {
  if (!existsSync('dist/cli/main.js')) {
    t.skip('dist/ not built: run `npm run build` (npm test does)');
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'cr-demo-'));
  try {
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'demo', '--out', out], {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    });
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout;
    assert.match(text, /== 1\. Real captures: 14 files/);
    assert.match(text, /headline: onset 2017-05-17 /);
    const m = /collector: (\d+) records sent over loopback UDP, (\d+) stored/.exec(text);
    assert.ok(m, text);
    assert.equal(m[2], m[1], 'the collector stored every record sent');
    const truth = JSON.parse(readFileSync(join(out, 'scenario', 'truth.json'), 'utf8')) as {
      onset: string;
      cryptoHosts: { ip: string; kind: string; wallet?: string }[];
    };
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      hosts: { host: string }[];
      wallets: { wallet: string; hosts: string[] }[];
      timelines: { label: string; changes: { kind: string; onset: string }[] }[];
      estimates: {
        subject: string;
        shareTimeHashrate?: { low: number; high: number };
        shareTimeMethod?: string;
      }[];
    };
    assert.equal(truth.onset.slice(0, 10), '2017-05-17');
    const pools = report.timelines.find((x) => x.label.startsWith('catalogued mining pools'));
    assert.equal(pools?.changes.find((c) => c.kind === 'increase')?.onset.slice(0, 10), '2017-05-17');
    const miners = truth.cryptoHosts.filter((h) => h.kind === 'miner');
    const reported = new Set(report.hosts.map((h) => h.host));
    for (const mnr of miners) assert.ok(reported.has(mnr.ip), `miner ${mnr.ip} is among the report's hosts`);
    const truthWallets = new Map(miners.map((mnr) => [mnr.wallet, mnr.ip]));
    assert.ok(report.wallets.length >= miners.length / 2, `${report.wallets.length} wallets found`);
    for (const w of report.wallets) {
      assert.ok(truthWallets.has(w.wallet), `wallet ${w.wallet} is one the scenario put there`);
      assert.ok(w.hosts.includes(truthWallets.get(w.wallet)!), `wallet ${w.wallet} is tied to its miner`);
    }
    // The demo's capture gives the miners' payload samples share times: a second hash-rate estimate.
    const timed = report.estimates.filter((e) => e.shareTimeHashrate);
    assert.ok(timed.length >= report.estimates.length / 2, `${timed.length} estimates from share times`);
    for (const e of timed) assert.match(e.shareTimeMethod!, /^share times in payload samples/);
    assert.ok(existsSync(join(out, 'report.html')) && existsSync(join(out, 'report.md')));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.doesNotMatch(
      html,
      /<script[^>]+src=|<link[^>]+href="http/,
      'self-contained: no external resources',
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
