/**
 * Indicators from CSV, two shapes told apart by the header:
 * - coinradar's: `kind,value,port,coin,name` with kind `endpoint` (an address or CIDR, port 0 =
 *   any), `domain` or `wallet` (value an address, coin its ticker); `# source: X` and
 *   `# version: X` lines name the source and its version.
 * - the mining-pool catalogue (`pool,server,ip,port,protocol,coins,verified`, as
 *   src/detect/data/mining-servers-2018-05.csv): a newer catalogue imports the same way, each
 *   endpoint and each server name an entry.
 * A bad row is skipped with its line number.
 */
import { parseCsvLine } from '../detect/infrastructure.js';
import { IMPORT_LIMITS, type ImportedAddress, type ImportedInfra } from './model.js';
import { infraEntry, quote, Skips } from './values.js';

export interface CsvRead {
  source: string | null;
  version: string | null;
  infrastructure: ImportedInfra[];
  addresses: ImportedAddress[];
  read: number;
  catalogue: boolean;
}

/** A row's fields, trimmed: the catalogue loader's CSV splitting (quotes as RFC 4180). */
function fields(line: string): string[] {
  return parseCsvLine(line).map((s) => s.trim());
}

export function readIndicatorCsv(text: string, skips: Skips): CsvRead {
  const out: CsvRead = {
    source: null,
    version: null,
    infrastructure: [],
    addresses: [],
    read: 0,
    catalogue: false,
  };
  const lines = text.split(/\r?\n/);
  if (lines.length > IMPORT_LIMITS.maxItems)
    throw new Error(`${lines.length} lines, more than ${IMPORT_LIMITS.maxItems}`);
  let head: string[] | null = null;
  // A catalogue lists an endpoint once per protocol: Stratum wins over getblocktemplate (as the
  // shipped catalogue's loader does), whatever the row order.
  const stratum = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const n = `line ${i + 1}`;
    const meta = /^#\s*(source|version):\s*(.+)$/.exec(line);
    if (meta) {
      const v = meta[2].trim().slice(0, 128);
      if (meta[1] === 'source') out.source = v;
      else out.version = v;
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    if (!head) {
      head = fields(line).map((h) => h.toLowerCase());
      out.catalogue = ['pool', 'server', 'ip', 'port'].every((c) => head!.includes(c));
      if (!out.catalogue && head.join(',') !== 'kind,value,port,coin,name')
        throw new Error(
          `line ${i + 1}: expected the header kind,value,port,coin,name or a pool catalogue's pool,server,ip,port,..., found ${quote(line)}`,
        );
      continue;
    }
    out.read++;
    const f = fields(line);
    const col = (c: string) => f[head!.indexOf(c)] ?? '';
    if (out.catalogue) {
      const port = Number(col('port'));
      const coin = col('coins');
      const e = infraEntry(col('ip'), port, {
        label: col('protocol') === 'getblocktemplate' ? 'getblocktemplate' : 'stratum',
        coin,
        name: col('pool'),
      });
      if (typeof e === 'string') skips.add(n, e);
      else {
        out.infrastructure.push(e);
        if (e.label === 'stratum') stratum.add(`${e.value}|${e.port}`);
      }
      if (col('server')) {
        const d = infraEntry(col('server'), 0, { label: 'stratum', coin, name: col('pool') });
        if (typeof d !== 'string') out.infrastructure.push(d);
      }
      continue;
    }
    const [kind, value, portText, coin, name] = [
      col('kind'),
      col('value'),
      col('port'),
      col('coin'),
      col('name'),
    ];
    if (kind === 'wallet') {
      if (!value || /\s/.test(value) || value.length > IMPORT_LIMITS.maxValueChars)
        skips.add(n, `bad address ${quote(value)}`);
      else if (!/^[A-Za-z0-9]{2,10}$/.test(coin)) skips.add(n, `coin ${quote(coin)} is not a ticker`);
      else out.addresses.push({ coin: coin.toUpperCase(), address: value, name: name || 'CSV row' });
      continue;
    }
    if (kind !== 'endpoint' && kind !== 'domain') {
      skips.add(n, `kind ${quote(kind)}: expected endpoint, domain or wallet`);
      continue;
    }
    if (portText && !/^\d{1,5}$/.test(portText)) {
      skips.add(n, `port ${quote(portText)}`);
      continue;
    }
    const e = infraEntry(value, portText ? Number(portText) : 0, { coin, name: name || value });
    if (typeof e === 'string') skips.add(n, e);
    else if ((kind === 'domain') !== /[a-z]$/.test(e.value))
      skips.add(n, `${kind} ${quote(value)}: the kind does not fit the value`);
    else out.infrastructure.push(e);
  }
  for (const e of out.infrastructure) if (stratum.has(`${e.value}|${e.port}`)) e.label = 'stratum';
  for (const e of out.infrastructure) if (stratum.has(`${e.value}|${e.port}`)) e.label = 'stratum';
  return out;
}
