/**
 * Infrastructure lists: known mining-pool and node endpoints by IP (optionally with port), CIDR
 * or domain name. A flow to a listed endpoint gets `infrastructure` confidence, with the entry and
 * the list's version as evidence. The default list is the Veselý & Žádník catalogue of 2018
 * (data/mining-servers-2018-05.csv) plus public pool domains (data/pool-domains.txt); users add
 * their own (see docs/detection-rules.md for the file format).
 */
import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeIp } from '../flow/record.js';
import { LABELS, type Label } from './types.js';

export interface InfraEntry {
  /** As written in the list: an address, a CIDR or a domain. */
  value: string;
  /** 0 = any port. */
  port: number;
  label: Label;
  coin: string;
  /** Pool or operator name. */
  name: string;
  /** The list the entry came from and its version ("mining-servers-2018-05@2018-05-13"). */
  list: string;
  listVersion: string;
  /** Free detail kept as evidence (catalogue: protocols, verified, server name). */
  detail?: Record<string, unknown>;
}

function ipv4Key(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function maskV4(ip: number, bits: number): number {
  return bits === 0 ? 0 : (ip & (0xffffffff << (32 - bits))) >>> 0;
}

function maskV6Hex(b: Uint8Array, off: number, bits: number): string {
  let s = '';
  for (let k = 0; k < 16; k++) {
    const keep = Math.max(0, Math.min(8, bits - k * 8));
    const v = b[off + k] & ((0xff << (8 - keep)) & 0xff);
    s += (v < 16 ? '0' : '') + v.toString(16);
  }
  return s;
}

/** The answer when nothing is listed for an address (shared: callers only read it). */
const NONE: readonly InfraEntry[] = Object.freeze([]);

/** Set the bits of every first-16-bit value a network of `bits` starting at `top` covers. */
function markTop(bitmap: Uint8Array, top: number, bits: number): void {
  const span = bits >= 16 ? 1 : 2 ** (16 - bits);
  const from = bits >= 16 ? top : top & ~(span - 1) & 0xffff;
  for (let t = from; t < from + span; t++) bitmap[t >>> 3] |= 1 << (t & 7);
}

export class InfrastructureList {
  /** IPv4 networks by prefix length → masked address → entries (/32 holds single hosts). */
  private v4 = new Map<number, Map<number, InfraEntry[]>>();
  private v6 = new Map<number, Map<string, InfraEntry[]>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];
  /**
   * One bit per value of an address's first 16 bits (IPv4 and IPv6 apart): set where some listed
   * network starts with it. Most flows' addresses are in no listed network; they are answered by
   * this bit, without a map probe per prefix length (two lookups a flow on a collector's path).
   */
  private readonly top4 = new Uint8Array(8192);
  private readonly top6 = new Uint8Array(8192);
  private domains = new Map<string, InfraEntry[]>();
  /** Every list merged in, as name@version. */
  readonly versions: string[] = [];
  size = 0;

  addVersion(v: string): void {
    if (!this.versions.includes(v)) this.versions.push(v);
  }

  /** Add an entry whose value is an IPv4/IPv6 address, a CIDR or a domain name. */
  add(e: InfraEntry): void {
    const v = e.value.trim().toLowerCase();
    const slash = v.indexOf('/');
    const addr = slash >= 0 ? v.slice(0, slash) : v;
    const isIp = /^[0-9.]+$/.test(addr) || addr.includes(':');
    this.size++;
    if (!isIp) {
      const name = v.replace(/^\*\./, '').replace(/\.$/, '');
      const list = this.domains.get(name) ?? [];
      list.push(e);
      this.domains.set(name, list);
      return;
    }
    const buf = new Uint8Array(16);
    const version = writeIp(buf, 0, addr);
    const max = version === 4 ? 32 : 128;
    const bits = slash >= 0 ? Number(v.slice(slash + 1)) : max;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`bad prefix length in ${e.value}`);
    markTop(version === 4 ? this.top4 : this.top6, (buf[0] << 8) | buf[1], bits);
    if (version === 4) {
      let m = this.v4.get(bits);
      if (!m) {
        this.v4.set(bits, (m = new Map()));
        this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
      }
      const key = maskV4(ipv4Key(buf, 0), bits);
      m.set(key, [...(m.get(key) ?? []), e]);
    } else {
      let m = this.v6.get(bits);
      if (!m) {
        this.v6.set(bits, (m = new Map()));
        this.v6Lengths = [...this.v6.keys()].sort((a, b) => b - a);
      }
      const key = maskV6Hex(buf, 0, bits);
      m.set(key, [...(m.get(key) ?? []), e]);
    }
  }

  /** Entries for an address held in 16 bytes at `off` (flow batch layout) and a port; most specific first. */
  lookupIp(b: Uint8Array, off: number, version: number, port: number): readonly InfraEntry[] {
    let out: InfraEntry[] | null = null;
    const top = (b[off] << 8) | b[off + 1];
    if (((version === 4 ? this.top4 : this.top6)[top >>> 3] & (1 << (top & 7))) === 0) return NONE;
    if (version === 4) {
      if (this.v4Lengths.length === 0) return [];
      const ip = ipv4Key(b, off);
      for (const bits of this.v4Lengths) {
        const hit = this.v4.get(bits)!.get(maskV4(ip, bits));
        if (hit) for (const e of hit) if (e.port === 0 || e.port === port) (out ??= []).push(e);
      }
    } else {
      for (const bits of this.v6Lengths) {
        const hit = this.v6.get(bits)!.get(maskV6Hex(b, off, bits));
        if (hit) for (const e of hit) if (e.port === 0 || e.port === port) (out ??= []).push(e);
      }
    }
    return out ?? NONE;
  }

  lookupIpText(ip: string, port: number): readonly InfraEntry[] {
    const b = new Uint8Array(16);
    const v = writeIp(b, 0, ip);
    return this.lookupIp(b, 0, v, port);
  }

  /** Entries for a host name: the name itself or any parent domain that is listed. */
  lookupDomain(host: string): InfraEntry[] {
    let h = host.toLowerCase().replace(/\.$/, '');
    for (let n = 0; n < 12 && h; n++) {
      const hit = this.domains.get(h);
      if (hit) return hit;
      const dot = h.indexOf('.');
      if (dot < 0) break;
      h = h.slice(dot + 1);
      if (!h.includes('.')) break; // never match a bare TLD
    }
    return [];
  }
}

export function parseCsvLine(line: string): string[] {
  // Most catalogue lines quote nothing: one native split instead of a string built per character
  // (loading the 2018 catalogue is part of every ingest's start-up).
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const CATALOGUE_VERSION = '2018-05-13';

/**
 * The study's catalogue: one row per (server, IP, port, protocol). Rows of the same IP and port
 * become one entry listing the protocols, coins and whether a probe verified a mining server.
 */
export function loadMiningServerCatalogue(
  list: InfrastructureList,
  path: string,
  listName = 'mining-servers-2018-05',
): void {
  const text = readFileSync(path, 'utf8');
  const lines = text.split(/\r?\n/);
  const head = parseCsvLine(lines[0]);
  const col = (n: string) => {
    const k = head.indexOf(n);
    if (k < 0) throw new Error(`${path}: line 1: no column ${n}`);
    return k;
  };
  const [cPool, cServer, cIp, cPort, cProto, cCoins, cVerified] = [
    'pool',
    'server',
    'ip',
    'port',
    'protocol',
    'coins',
    'verified',
  ].map(col);
  const version = `${listName}@${CATALOGUE_VERSION}`;
  list.addVersion(version);
  const byEndpoint = new Map<
    string,
    {
      pool: string;
      server: string;
      ip: string;
      port: number;
      protocols: Set<string>;
      coins: Set<string>;
      verified: Set<string>;
    }
  >();
  const servers = new Map<string, { pool: string; coins: Set<string> }>();
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]) continue;
    const r = parseCsvLine(lines[i]);
    const ip = r[cIp];
    const port = Number(r[cPort]);
    if (!ip || !Number.isInteger(port)) continue;
    const key = `${ip}:${port}`;
    let e = byEndpoint.get(key);
    if (!e)
      byEndpoint.set(
        key,
        (e = {
          pool: r[cPool],
          server: r[cServer],
          ip,
          port,
          protocols: new Set(),
          coins: new Set(),
          verified: new Set(),
        }),
      );
    e.protocols.add(r[cProto]);
    for (const c of r[cCoins].split('|')) if (c) e.coins.add(c);
    if (r[cVerified] === '1') e.verified.add(r[cProto]);
    const s = servers.get(r[cServer]) ?? { pool: r[cPool], coins: new Set() };
    for (const c of r[cCoins].split('|')) if (c) s.coins.add(c);
    servers.set(r[cServer], s);
  }
  for (const e of byEndpoint.values()) {
    // Label by what a probe confirmed there, else by what the pool advertised.
    const protos = e.verified.size ? e.verified : e.protocols;
    const label: Label = protos.has('stratum') ? 'stratum' : 'getblocktemplate';
    list.add({
      value: e.ip,
      port: e.port,
      label,
      coin: [...e.coins].sort().join('|'),
      name: e.pool,
      list: listName,
      listVersion: version,
      detail: { server: e.server, protocols: [...e.protocols].sort(), verified: [...e.verified].sort() },
    });
  }
  for (const [server, s] of servers) {
    list.add({
      value: server,
      port: 0,
      label: 'stratum',
      coin: [...s.coins].sort().join('|'),
      name: s.pool,
      list: listName,
      listVersion: version,
      detail: { server },
    });
  }
}

/**
 * Pool domains, one per line: `domain[,coin[,pool name]]`; `# version: X` sets the version.
 */
export function loadDomainList(list: InfrastructureList, path: string, listName: string): void {
  const text = readFileSync(path, 'utf8');
  let version = '';
  const entries: InfraEntry[] = [];
  text.split(/\r?\n/).forEach((raw) => {
    const line = raw.trim();
    const v = /^#\s*version:\s*(\S+)/.exec(line);
    if (v) version = v[1];
    if (!line || line.startsWith('#')) return;
    const [domain, coin = '', name = ''] = line.split(',').map((s) => s.trim());
    entries.push({
      value: domain,
      port: 0,
      label: 'stratum',
      coin,
      name: name || domain,
      list: listName,
      listVersion: '',
    });
  });
  const full = `${listName}@${version || fileVersion(path)}`;
  list.addVersion(full);
  for (const e of entries) list.add({ ...e, listVersion: full });
}

/** A list without a version line is versioned by its content (date + hash prefix). */
function fileVersion(path: string): string {
  const h = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 8);
  return `${statSync(path).mtime.toISOString().slice(0, 10)}-${h}`;
}

/**
 * A user list (CSV): `value,label,coin,port,name` with a header line; value is an IP, CIDR or
 * domain; label one of the vocabulary (default pool-endpoint); `# version: X` sets the version.
 * Bad lines are reported with their line number and skipped.
 */
export function loadUserList(
  list: InfrastructureList,
  path: string,
  onProblem?: (msg: string) => void,
): number {
  const text = readFileSync(path, 'utf8');
  const listName = path.split('/').pop() ?? path;
  let version = '';
  const entries: InfraEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const v = /^#\s*version:\s*(\S+)/.exec(line);
    if (v) version = v[1];
    if (!line || line.startsWith('#') || /^value\s*,/i.test(line)) continue;
    const [value, label = '', coin = '', port = '', name = ''] = parseCsvLine(line).map((s) => s.trim());
    const lab = (label || 'pool-endpoint') as Label;
    const p = port ? Number(port) : 0;
    if (!LABELS.includes(lab) || !Number.isInteger(p) || p < 0 || p > 65535) {
      onProblem?.(
        `${path}: line ${i + 1}: expected value,label,coin,port,name with a known label, found ${JSON.stringify(line)}`,
      );
      continue;
    }
    entries.push({ value, port: p, label: lab, coin, name: name || value, list: listName, listVersion: '' });
  }
  const full = `${listName}@${version || fileVersion(path)}`;
  list.addVersion(full);
  let n = 0;
  for (const e of entries) {
    try {
      list.add({ ...e, listVersion: full });
      n++;
    } catch (err) {
      onProblem?.(`${path}: ${e.value}: ${(err as Error).message}`);
    }
  }
  return n;
}

export const DEFAULT_CATALOGUE = new URL('./data/mining-servers-2018-05.csv', import.meta.url);
export const DEFAULT_POOL_DOMAINS = new URL('./data/pool-domains.txt', import.meta.url);

/** The default lists every deployment loads, plus any user lists. */
export function loadInfrastructure(
  userLists: string[] = [],
  onProblem?: (msg: string) => void,
): InfrastructureList {
  const list = new InfrastructureList();
  loadMiningServerCatalogue(list, DEFAULT_CATALOGUE.pathname);
  loadDomainList(list, DEFAULT_POOL_DOMAINS.pathname, 'pool-domains');
  for (const p of userLists) loadUserList(list, p, onProblem);
  return list;
}
