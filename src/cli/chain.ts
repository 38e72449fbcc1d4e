import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Progress } from './progress.js';
import { Diagnostics, formatProblem } from '../flow/diagnostics.js';
import { openChainStore, type ChainStore } from '../store/chain.js';
import { defaultDbPath } from '../store/store.js';
import { policyLabel } from '../chain/cluster.js';
import { exposure } from '../chain/exposure.js';
import { ingestChain, type ChainSourceSpec } from '../chain/ingest.js';
import { networkByName, NETWORKS, type ChainNetwork } from '../chain/network.js';
import {
  DEFAULT_RPC_CONNECT_TIMEOUT_MS,
  DEFAULT_RPC_MAX_BYTES,
  DEFAULT_RPC_TIMEOUT_MS,
} from '../chain/rpc.js';
import { attributePools, payoutsTo, type PoolAttribution } from '../chain/pools.js';
import { TagSet, tagFile, TAG_MINING_POOL } from '../chain/tags.js';
import { parseTimeBound, trace, type TaintPolicy } from '../chain/trace.js';
import { collect, parseFormat, render } from './output.js';

const coins = (sat: number | null) => (sat === null ? '' : (sat / 1e8).toFixed(8));

async function withStore<T>(db: string, fn: (s: ChainStore) => Promise<T>): Promise<T> {
  const s = await openChainStore(db);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * Prints a command's answer: `json` whole, the table for people, and `records` (raw values: satoshis,
 * not coins) as CSV or JSON lines, one record per line, for scripts.
 */
function out(
  format: string,
  json: unknown,
  table: () => string,
  records: () => Record<string, unknown>[],
): void {
  const f = parseFormat(format);
  const text = f === 'json' ? JSON.stringify(json, null, 2) : f === 'table' ? table() : render(records(), f);
  process.stdout.write(text + '\n');
}

/**
 * A blocks directory from a path: blocks/ itself, a data dir, or a data dir's network subdir (of
 * the asserted network, or of any network when none is given; more than one is an error).
 */
function blocksDirOf(path: string, asserted?: ChainNetwork): string {
  const subdirs = asserted
    ? [asserted.dataSubdir]
    : [...new Set(Object.values(NETWORKS).map((n) => n.dataSubdir))];
  const found = [path, join(path, 'blocks'), ...subdirs.map((d) => join(path, d, 'blocks'))].filter(
    (c, i, all) =>
      all.indexOf(c) === i &&
      existsSync(c) &&
      statSync(c).isDirectory() &&
      existsSync(join(c, 'blk00000.dat')),
  );
  if (found.length > 1)
    throw new Error(`${path} holds block files of several networks (${found.join(', ')}): name one`);
  return found[0] ?? path;
}

/** A positive whole number option (ms, bytes). */
function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = wholeNumber(name, v);
  if (n <= 0) throw new Error(`${name} takes a whole number above 0, not ${v}`);
  return n;
}

function poolFile(path?: string): Map<string, string> {
  const m = new Map<string, string>();
  if (!path) return m;
  for (const a of tagFile(path).addresses()) m.set(a.address, a.tag);
  return m;
}

async function tagsFor(store: ChainStore, files: string[], pools: PoolAttribution): Promise<TagSet> {
  const tags = new TagSet();
  for (const f of files) tags.addSource(tagFile(f));
  const texts = await store.addressTexts([...pools.byAddress.keys()]);
  for (const [a, name] of pools.byAddress) tags.add(texts.get(a) ?? '', TAG_MINING_POOL, name, 'coinbase');
  return tags;
}

/** An address, or cluster:<id>; at cluster level an address stands for its whole cluster. */
async function resolveTarget(
  store: ChainStore,
  arg: string,
  level: string,
): Promise<{ addressIds: number[]; label: string; level: 'address' | 'cluster' }> {
  const m = /^cluster:(\d+)$/.exec(arg);
  if (m) return { addressIds: await store.clusterMembers(Number(m[1])), label: arg, level: 'cluster' };
  const id = await store.addressIdOf(arg);
  if (id === null) throw new Error(`address ${arg} is not in the index`);
  if (level === 'cluster') {
    const c = await store.clusterOf(id);
    if (c !== null)
      return { addressIds: await store.clusterMembers(c), label: `cluster:${c} (${arg})`, level: 'cluster' };
  }
  return { addressIds: [id], label: arg, level: 'address' };
}

function wholeNumber(name: string, v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new Error(`${name} takes a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

export function register(program: Command): void {
  const chain = program
    .command('chain')
    .description('follow the money: index blocks, look up, cluster, trace');

  chain
    .command('ingest [source]')
    .description('index blocks from a blocks directory (blk*.dat), a raw/hex block file, or a node (--rpc)')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option(
      '--network <name>',
      `assert the network (${Object.keys(NETWORKS).join(', ')}); it is read from the node or the block files, and a mismatch is an error`,
    )
    .option('--rpc <url>', 'node JSON-RPC, http://user:password@host:port')
    .option('--cookie <file>', "the node's .cookie file for RPC credentials")
    .option('--rpc-timeout <ms>', 'deadline for each whole RPC answer', String(DEFAULT_RPC_TIMEOUT_MS))
    .option(
      '--rpc-connect-timeout <ms>',
      'deadline for the RPC connection',
      String(DEFAULT_RPC_CONNECT_TIMEOUT_MS),
    )
    .option(
      '--rpc-max-bytes <n>',
      'largest RPC answer read; past it the request is aborted (batches of blocks are split first)',
      String(DEFAULT_RPC_MAX_BYTES),
    )
    .option('--merkle', 'check every block merkle root', false)
    .option(
      '--change-policy',
      'opt-in: also cluster fresh change outputs (a guess; labelled in every result)',
      false,
    )
    .action(
      async (
        source: string | undefined,
        o: {
          db: string;
          network?: string;
          rpc?: string;
          cookie?: string;
          rpcTimeout: string;
          rpcConnectTimeout: string;
          rpcMaxBytes: string;
          merkle: boolean;
          changePolicy: boolean;
        },
      ) => {
        const net = o.network === undefined ? undefined : networkByName(o.network);
        let spec: ChainSourceSpec;
        if (o.rpc)
          spec = {
            kind: 'rpc',
            url: o.rpc,
            cookieFile: o.cookie,
            timeoutMs: positive('--rpc-timeout', o.rpcTimeout),
            connectTimeoutMs: positive('--rpc-connect-timeout', o.rpcConnectTimeout),
            maxBytes: positive('--rpc-max-bytes', o.rpcMaxBytes),
          };
        else if (!source) throw new Error('give a blocks directory, a block file, or --rpc');
        else if (statSync(source).isDirectory())
          spec = { kind: 'blocks-dir', path: blocksDirOf(source, net) };
        else spec = { kind: 'raw', path: source };
        let shown = 0;
        const diag = new Diagnostics(100, (p) => {
          if (shown++ < 20) process.stderr.write(`warning: ${formatProblem(p)}\n`);
        });
        await withStore(o.db, async (store) => {
          // Blocks indexed, the rate and the height reached, on a terminal (quiet otherwise).
          const progress = new Progress('chain ingest');
          let blocks = 0;
          const r = await ingestChain(store, net, spec, diag, {
            policy: { change: o.changePolicy },
            checkMerkle: o.merkle,
            onBlock: (height) => progress.update(++blocks, `${blocks} blocks, height ${height}`),
          });
          progress.done();
          process.stderr.write(`network ${r.network}: ${r.networkFrom}\n`);
          process.stderr.write(
            `indexed ${r.blocks} blocks (tip ${r.tipHeight}); index holds ${r.txs} txs, ${r.outputs} outputs, ${r.addresses} addresses; ` +
              `clusters [${policyLabel(r.clusters.policy).join(', ')}]: ${r.clusters.txsFolded} txs folded, ${r.clusters.coinjoinSkipped} CoinJoin-like skipped; ${r.seconds.toFixed(1)} s\n`,
          );
          if (diag.get('chain.mweb_blocks') > 0)
            process.stderr.write(
              `note: ${diag.get('chain.mweb_blocks')} MWEB blocks: extension data skipped (${diag.get('chain.mweb_bytes_skipped')} bytes); MWEB transactions are not indexed\n`,
            );
          process.stderr.write(`${diag.summary()}\n`);
        });
      },
    );

  chain
    .command('tx <txid>')
    .description('one transaction with resolved inputs and outputs')
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (txid: string, o: { db: string; format: string }) =>
      withStore(o.db, async (store) => {
        const t = await store.tx(txid);
        if (!t) throw new Error(`transaction ${txid} is not in the index`);
        out(
          o.format,
          t,
          () => {
            const head = `${t.txid}  height ${t.height}  ${t.time}  in ${coins(t.in_value)}  out ${coins(t.out_value)}  fee ${coins(t.fee)}${t.coinbase ? '  coinbase' : ''}${t.coinjoin ? '  coinjoin-like' : ''}`;
            const ins = render(
              t.inputs.map((i) => ({
                vin: i.vin,
                from: i.address ?? '',
                value: coins(i.value),
                prev: i.prev_txid ? `${i.prev_txid}:${i.prev_vout}` : '',
              })),
              'table',
            );
            const outs = render(
              t.outputs.map((x) => ({
                vout: x.vout,
                to: x.address ?? '',
                type: x.script_type,
                value: coins(x.value),
                spent_by: x.spent_by ?? '',
              })),
              'table',
            );
            return `${head}\n\ninputs\n${ins}\n\noutputs\n${outs}`;
          },
          () => [
            ...t.inputs.map((i) => ({
              txid: t.txid,
              side: 'in',
              n: i.vin,
              address: i.address ?? '',
              value: i.value,
              prev: i.prev_txid ? `${i.prev_txid}:${i.prev_vout}` : '',
              script_type: '',
              spent_by: '',
            })),
            ...t.outputs.map((x) => ({
              txid: t.txid,
              side: 'out',
              n: x.vout,
              address: x.address ?? '',
              value: x.value,
              prev: '',
              script_type: x.script_type,
              spent_by: x.spent_by ?? '',
            })),
          ],
        );
      }),
    );

  chain
    .command('address <address>')
    .description('received, sent, balance and cluster of an address')
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (address: string, o: { db: string; format: string }) =>
      withStore(o.db, async (store) => {
        const a = await store.address(address);
        if (!a) throw new Error(`address ${address} is not in the index`);
        const policy = (await store.state()).clusterPolicy;
        const json = { ...a, cluster_heuristics: policyLabel(policy) };
        out(
          o.format,
          json,
          () =>
            render(
              [
                {
                  ...a,
                  received: coins(a.received),
                  sent: coins(a.sent),
                  balance: coins(a.balance),
                  heuristics: policyLabel(policy).join(', '),
                },
              ],
              'table',
            ),
          () => [{ ...a, cluster_heuristics: policyLabel(policy).join(' ') }],
        );
      }),
    );

  chain
    .command('cluster <address>')
    .description('the cluster of an address (common-input ownership; CoinJoin-like transactions skipped)')
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (address: string, o: { db: string; format: string }) =>
      withStore(o.db, async (store) => {
        const id = await store.addressIdOf(address);
        if (id === null) throw new Error(`address ${address} is not in the index`);
        const c = await store.clusterOf(id);
        const members = c === null ? [id] : await store.clusterMembers(c);
        const texts = await store.addressTexts(members);
        const stats = await store.clusterStats();
        const json = {
          cluster_id: c,
          size: members.length,
          heuristics: policyLabel(stats.policy),
          coinjoin_like_skipped: stats.coinjoinSkipped,
          addresses: members.map((m) => texts.get(m)),
        };
        out(
          o.format,
          json,
          () =>
            [
              `cluster ${c} of ${address}: ${members.length} addresses [${json.heuristics.join(', ')}]`,
              render(
                members.map((m) => ({ address_id: m, address: texts.get(m) })),
                'table',
              ),
            ].join('\n'),
          () => members.map((m) => ({ cluster_id: c, address_id: m, address: texts.get(m) })),
        );
      }),
    );

  chain
    .command('trace <seed>')
    .description('follow funds from an address or txid through spending transactions')
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--direction <d>', 'forward | backward', 'forward')
    .option('--hops <n>', 'transactions to follow', '3')
    .option('--min-value <sat>', 'skip edges carrying less tainted value (satoshis)', '0')
    .option('--since <when>', 'ISO date/time (UTC), block height (< 500000000) or UNIX seconds')
    .option('--until <when>', 'ISO date/time (a bare date: to its end), block height or UNIX seconds')
    .option('--level <l>', 'address | cluster', 'address')
    .option('--taint <p>', 'haircut | poison', 'haircut')
    .option('--tags <file>', 'address,tag[,label] CSV (repeatable)', collect, [])
    .option('--pools <file>', 'address,pool CSV naming coinbase payout addresses')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(
      async (
        seedArg: string,
        o: {
          db: string;
          direction: string;
          hops: string;
          minValue: string;
          since?: string;
          until?: string;
          level: string;
          taint: string;
          tags: string[];
          pools?: string;
          format: string;
        },
      ) =>
        withStore(o.db, async (store) => {
          if (!['forward', 'backward'].includes(o.direction))
            throw new Error('--direction is forward or backward');
          if (!['address', 'cluster'].includes(o.level)) throw new Error('--level is address or cluster');
          if (!['haircut', 'poison'].includes(o.taint)) throw new Error('--taint is haircut or poison');
          const bound = (name: string, v: string | undefined, end: boolean) => {
            if (v === undefined) return undefined;
            try {
              return parseTimeBound(v, end);
            } catch (e) {
              throw new Error(`--${name}: ${(e as Error).message}`, { cause: e });
            }
          };
          const since = bound('since', o.since, false);
          const until = bound('until', o.until, true);
          const hops = wholeNumber('--hops', o.hops);
          const minValue = wholeNumber('--min-value', o.minValue);
          const txId = /^[0-9a-fA-F]{64}$/.test(seedArg) ? await store.txIdOf(seedArg) : null;
          const seed =
            txId !== null
              ? { kind: 'tx' as const, txId, label: seedArg }
              : {
                  kind: 'address' as const,
                  addressIds: [(await resolveTarget(store, seedArg, 'address')).addressIds[0]],
                  label: seedArg,
                };
          const tags = await tagsFor(store, o.tags, await attributePools(store, poolFile(o.pools)));
          const g = await trace(
            store,
            seed,
            {
              direction: o.direction as 'forward',
              hops,
              minValue,
              since,
              until,
              level: o.level as 'address',
              policy: o.taint as TaintPolicy,
            },
            tags,
          );
          out(
            o.format,
            g,
            () => {
              const label = new Map(
                g.nodes.map((n) => [n.id, n.label + (n.tags.length ? ` [${n.tags.join('; ')}]` : '')]),
              );
              const head = `${g.direction} trace of ${g.seed}, ${g.hops} hops, ${g.level} level, taint policy ${g.policy}${g.heuristics.length ? `, clusters: ${g.heuristics.join(', ')}` : ''}`;
              return `${head}\n${render(
                g.edges.map((e) => ({
                  hop: e.hop,
                  from: label.get(e.from),
                  to: label.get(e.to),
                  value: coins(e.value),
                  tainted: coins(e.tainted),
                  time: e.time,
                })),
                'table',
              )}`;
            },
            () => {
              const label = new Map(g.nodes.map((n) => [n.id, n.label]));
              const tagsOf = new Map(g.nodes.map((n) => [n.id, n.tags.join('; ')]));
              return g.edges.map((e) => ({
                hop: e.hop,
                from: label.get(e.from),
                to: label.get(e.to),
                to_tags: tagsOf.get(e.to),
                value: e.value,
                tainted: e.tainted,
                time: e.time,
              }));
            },
          );
        }),
    );

  chain
    .command('exposure <target>')
    .description(
      'share of funds received (address, or cluster:<id>) that came from tagged sources within k hops',
    )
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--hops <k>', 'hops back', '3')
    .option('--level <l>', 'address | cluster', 'address')
    .option('--taint <p>', 'haircut | poison', 'haircut')
    .option('--tags <file>', 'address,tag[,label] CSV (repeatable): sanctioned, exchange, ...', collect, [])
    .option('--pools <file>', 'address,pool CSV naming coinbase payout addresses')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(
      async (
        arg: string,
        o: {
          db: string;
          hops: string;
          level: string;
          taint: string;
          tags: string[];
          pools?: string;
          format: string;
        },
      ) =>
        withStore(o.db, async (store) => {
          const target = await resolveTarget(store, arg, o.level);
          const tags = await tagsFor(store, o.tags, await attributePools(store, poolFile(o.pools)));
          const r = await exposure(store, target, tags, {
            hops: wholeNumber('--hops', o.hops),
            policy: o.taint as TaintPolicy,
          });
          out(
            o.format,
            r,
            () => {
              const head = `exposure of ${r.target} (${r.level}; received ${coins(r.received)} in ${r.receipts} outputs; ${r.hops} hops; taint ${r.policy}${r.heuristics.length ? `; clusters: ${r.heuristics.join(', ')}` : ''})`;
              return `${head}\n${render(
                r.exposure.map((x) => ({
                  tag: x.tag,
                  value: coins(x.value),
                  share: `${(x.share * 100).toFixed(2)}%`,
                  min_hops: x.minHops,
                  sources: x.sources.join(' '),
                })),
                'table',
              )}`;
            },
            () =>
              r.exposure.map((x) => ({
                target: r.target,
                tag: x.tag,
                value: x.value,
                share: x.share,
                min_hops: x.minHops,
                sources: x.sources.join(' '),
              })),
          );
        }),
    );

  chain
    .command('payouts <target>')
    .description(
      'mining-pool payouts received by an address or its cluster (--level cluster) or cluster:<id>',
    )
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .option('--level <l>', 'address | cluster', 'address')
    .option('--pools <file>', 'address,pool CSV naming coinbase payout addresses')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (arg: string, o: { db: string; level: string; pools?: string; format: string }) =>
      withStore(o.db, async (store) => {
        const target = await resolveTarget(store, arg, o.level);
        const pools = await attributePools(store, poolFile(o.pools));
        const rows = await payoutsTo(store, target.addressIds, pools);
        const heuristics = target.level === 'cluster' ? policyLabel((await store.state()).clusterPolicy) : [];
        out(
          o.format,
          { target: target.label, level: target.level, heuristics, payouts: rows },
          () =>
            `payouts to ${target.label}${heuristics.length ? ` [clusters: ${heuristics.join(', ')}]` : ''}\n` +
            render(
              rows.map((p) => ({ ...p, value: coins(p.value) })),
              'table',
            ),
          () => rows.map((p) => ({ target: target.label, ...p })),
        );
      }),
    );

  chain
    .command('export <dir>')
    .description('write the index as Parquet files (blocks, txs, outputs, inputs, addresses, clusters)')
    .option('--db <file>', 'DuckDB file', defaultDbPath())
    .action(async (dir: string, o: { db: string }) =>
      withStore(o.db, async (store) => {
        for (const f of await store.exportParquet(dir)) process.stdout.write(`${f}\n`);
      }),
    );
}
