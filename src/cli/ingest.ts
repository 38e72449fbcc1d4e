import type { Command } from 'commander';
import { formatProblem } from '../flow/diagnostics.js';
import { ingestFile } from '../flow/ingest.js';
import '../flow/all-formats.js';
import { openFlowStore } from '../store/open.js';
import { parseMemoryLimit } from '../store/duckdb/database.js';
import { defaultDbPath } from '../store/store.js';
import { loadEnricher } from './enricher.js';
import { detectionHookFor } from '../detect/pipeline.js';
import { Progress, humanBytes } from './progress.js';
import { nfcapdFilesIn } from '../netflow/nfcapd.js';
import { statSync } from 'node:fs';
import { defaultSpoolLimit, parseSize } from '../flow/decompress.js';

/** Files to read: a directory stands for the nfdump files under it, in time order (as nfdump -R). */
async function expandPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (!statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
      out.push(p);
      continue;
    }
    const { files, skipped } = await nfcapdFilesIn(p);
    process.stdout.write(
      `${p}: ${files.length} nfcapd files in time order${skipped.length ? ` (${skipped.length} other files left out, e.g. ${skipped[0]})` : ''}\n`,
    );
    out.push(...files);
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description(
      'read captures, NetFlow/IPFIX export files, nfcapd files, nfdump CSV or Zeek conn.log into the store (format and gzip/zstd/bzip2/xz compression detected from the bytes)',
    )
    .argument(
      '<path...>',
      'input files (- for standard input), or directories of nfcapd files (read in time order)',
    )
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--payload-bytes <n>', 'payload bytes kept per direction for detection', '2048')
    .option(
      '--active-timeout <seconds>',
      "captures: a flow lasting this long ends and goes on as a new one, as an exporter's active timeout cuts it (nfpcapd's 300 s; Cisco's NetFlow default is 1800)",
      '300',
    )
    .option('--no-geo', 'skip country/AS enrichment')
    .option('--watchlist <file>', 'extra CIDR watchlist file (name,cidr per line)')
    .option('--no-detect', 'store flows only; run `coinradar detect` later')
    .option('--list <file...>', 'extra infrastructure list(s) for detection: CSV value,label,coin,port,name')
    .option(
      '--store-memory <size>',
      "DuckDB's memory limit in this process, reads through it included, e.g. 512M (default: DuckDB's, 80% of RAM)",
    )
    .option(
      '--spool-limit <size>',
      'largest decompressed (or piped) input written to the temporary directory, e.g. 10G (default: 64G or 90% of the free space there)',
    )
    .action(
      async (
        args: string[],
        o: {
          db: string;
          payloadBytes: string;
          activeTimeout: string;
          geo: boolean;
          watchlist?: string;
          detect: boolean;
          list?: string[];
          spoolLimit?: string;
          storeMemory?: string;
        },
      ) => {
        const activeTimeoutS = Number(o.activeTimeout);
        if (!(Number.isFinite(activeTimeoutS) && activeTimeoutS >= 1))
          throw new Error(`--active-timeout: '${o.activeTimeout}' is not a number of seconds (at least 1)`);
        const spoolLimit = o.spoolLimit === undefined ? defaultSpoolLimit() : parseSize(o.spoolLimit);
        if (!(spoolLimit > 0))
          throw new Error(`--spool-limit: '${o.spoolLimit}' is not a size (e.g. 500M, 10G)`);
        // `-` on a terminal would wait for typed bytes: almost surely a missing pipe.
        if (args.includes('-') && process.stdin.isTTY)
          throw new Error(
            "'-' reads standard input, which is a terminal here: pipe the data in (zcat conn.log.gz | coinradar ingest -)",
          );
        const paths = await expandPaths(args);
        // Before the store is opened: a bad --watchlist must not leave a store (and its reader
        // socket) open behind the error, which kept the process alive.
        const enricher = await loadEnricher({ geo: o.geo, watchlist: o.watchlist, db: o.db });
        const memoryLimit = o.storeMemory ? parseMemoryLimit(o.storeMemory) : undefined;
        const store = await openFlowStore(o.db, { memoryLimit });
        // Other commands read the files already committed while a long ingest goes on.
        await store.serveReaders();
        const detection = o.detect
          ? await detectionHookFor(store, { lists: o.list }).catch(async (e: unknown) => {
              await store.close();
              throw e;
            })
          : undefined;
        let shown = 0;
        let failed = 0;
        try {
          for (const path of paths) {
            let progress: Progress | null = null;
            let spooling: Progress | null = null;
            const r = await ingestFile(path, {
              store,
              enricher,
              hooks: detection ? [detection.hook] : [],
              payloadCap: Number(o.payloadBytes),
              activeTimeoutMs: activeTimeoutS * 1000,
              spoolLimit,
              // A pipe has no size: bytes read and the rate, no percentage.
              onSpoolProgress: (f, n, size) => {
                spooling ??= Progress.bytes(`decompress/spool ${f}`, size);
                spooling.update(
                  n,
                  size ? `${humanBytes(n)} of ${humanBytes(size)}` : `${humanBytes(n)} read`,
                );
              },
              onProgress: (_f, n, size) => {
                (spooling as Progress | null)?.done();
                spooling = null;
                progress ??= Progress.bytes(`ingest ${path}`, size);
                progress.update(n, `${humanBytes(n)} of ${humanBytes(size)}`);
              },
              onProblem: (p) => {
                if (shown++ < 10) process.stderr.write(`warning: ${formatProblem(p)}\n`);
              },
            });
            (spooling as Progress | null)?.done();
            (progress as Progress | null)?.done();
            const skipped = r.diagnostics.get('problems');
            if (r.error) failed++;
            const how = r.compression
              ? ` (${r.compression}${r.spooledBytes ? `, ${humanBytes(r.spooledBytes)} decompressed` : ''})`
              : r.spooledBytes
                ? ` (${humanBytes(r.spooledBytes)} spooled)`
                : '';
            process.stdout.write(
              `${r.path}: ${r.kind}${how}, ${r.flows} flows stored${skipped ? `, ${skipped} problems (${r.diagnostics.summary()})` : ''}${r.error ? `\n  error: ${r.error}` : ''}\n`,
            );
          }
          if (detection) process.stdout.write(`detections: ${detection.summary()}\n`);
        } finally {
          await store.close();
        }
        // An input that could not be read whole is an input error (2), as everywhere in the CLI.
        if (failed) process.exitCode = 2;
      },
    );
}
