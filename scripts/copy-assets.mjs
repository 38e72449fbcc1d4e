// tsc compiles .ts only; schema files and shipped data are copied beside the compiled modules.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
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
