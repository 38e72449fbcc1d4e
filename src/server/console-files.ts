/**
 * The console's static files (Vite's build in dist/console/: index.html, hashed assets, the icon),
 * read into memory once at start: a few hundred kilobytes, served without touching the disk, and
 * nothing outside that folder can be named (a request path is a key of the map, never a path
 * joined onto a directory). Hashed assets may be cached for ever; index.html is revalidated, so a
 * new build is picked up at the next load.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from './errors.js';

/** Where the package's build puts the console: <package>/dist/console (from src/ and dist/ alike). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface ConsoleFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** The files of `dir` by URL path ('/index.html', '/assets/index-3f2a.js'); empty when not built. */
export function readConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(dir)) return files;
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile() && TYPES[extname(name)]) {
        const body = readFileSync(p);
        files.set('/' + relative(dir, p).split(sep).join('/'), {
          body,
          type: TYPES[extname(name)],
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        });
      }
    }
  };
  walk(dir, 0);
  return files;
}

/** GET / (index.html), /assets/* and /favicon.svg from `dir`, public (access.ts PUBLIC_ROUTES). */
export function registerConsoleFiles(app: FastifyInstance, dir: string): void {
  const files = readConsoleFiles(dir);
  const send = (reply: FastifyReply, ifNoneMatch: string | undefined, path: string, immutable: boolean) => {
    const f = files.get(path);
    if (!f) {
      if (path === '/index.html')
        return sendError(
          reply,
          503,
          'console_not_built',
          `the console is not built (no ${join(dir, 'index.html')}): run npm run build`,
        );
      return sendError(reply, 404, 'not_found', `no console file ${path.slice(0, 200)}`);
    }
    reply.header('etag', f.etag);
    reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (ifNoneMatch === f.etag) return reply.code(304).send();
    return reply.type(f.type).send(f.body);
  };
  const pub = { config: { public: true } };
  app.get('/', pub, (req, reply) => send(reply, req.headers['if-none-match'], '/index.html', false));
  app.get('/favicon.svg', pub, (req, reply) =>
    send(reply, req.headers['if-none-match'], '/favicon.svg', false),
  );
  app.get<{ Params: { '*': string } }>('/assets/*', pub, (req, reply) =>
    send(reply, req.headers['if-none-match'], `/assets/${req.params['*']}`, true),
  );
}
