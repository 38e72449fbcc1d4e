// tsc compiles .ts only; schema files and shipped data are copied beside the compiled modules.
import { chmodSync, cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';

const exts = ['.sql', '.csv', '.txt', '.json'];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (exts.some((e) => name.endsWith(e))) {
      const out = join('dist', p.slice('src/'.length));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(p, out);
    }
  }
}
walk('src');

// The CLI entry is the package's bin: executable, so `npx coinradar` (and a linked `coinradar`)
// runs it from a fresh build (tsc writes 0644).
chmodSync(join('dist', 'cli', 'main.js'), 0o755);
