import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, humanDuration } from '../../src/cli/progress.js';

/** A stream that says whether it is a terminal and keeps what is written. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    columns: 200,
    text: '',
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

test('progress shows percentage, rate and time left; nothing when not a terminal', () => {
  const saved = process.env.CI;
  delete process.env.CI;
  try {
    const tty = stream(true);
    const p = Progress.bytes('ingest x.pcap', 1_000_000, tty);
    const start = Date.now();
    const line = p.line(250_000, start + 1000);
    assert.match(line, /\] {2}25% /);
    assert.match(line, /\d+(\.\d)? KB\/s/);
    assert.match(line, /ETA \d s/);
    p.update(250_000, '250 KB of 1 MB');
    assert.match(tty.text, /^\ringest x\.pcap \[#+\.+\]/);
    p.done();
    assert.ok(tty.text.endsWith('\r\x1b[K'), 'the line is cleared when done');

    const items = new Progress('report', 5, stream(true));
    assert.match(items.line(2, Date.now() + 2000), /40% 1\.0\/s ETA 3 s/);

    const pipe = stream(false);
    const q = Progress.bytes('ingest y', 100, pipe);
    q.update(50);
    q.done('finished');
    assert.equal(pipe.text, '', 'quiet when stderr is not a terminal');
  } finally {
    if (saved !== undefined) process.env.CI = saved;
  }
  assert.equal(humanDuration(42), '42 s');
  assert.equal(humanDuration(185), '3 min 5 s');
  assert.equal(humanDuration(7800), '2 h 10 min');
});
