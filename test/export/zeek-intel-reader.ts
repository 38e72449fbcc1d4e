/**
 * A strict reader of the Zeek Intel framework's input file, written from Zeek's documentation
 * (base/frameworks/intel, "Loading Intelligence"): the file is read by Zeek's ASCII input reader
 * with a `#fields` header naming tab-separated columns; `indicator` and `indicator_type` are
 * required, `meta.source` names the source; every data line has as many fields as the header,
 * separated by exactly one tab; `-` is an unset field; `#` lines are comments. Types are the
 * Intel::Type enum of Zeek's intel framework. Zeek itself is not packaged for Debian bookworm.
 */
export const INTEL_TYPES = [
  'Intel::ADDR',
  'Intel::SUBNET',
  'Intel::URL',
  'Intel::SOFTWARE',
  'Intel::EMAIL',
  'Intel::DOMAIN',
  'Intel::USER_NAME',
  'Intel::CERT_HASH',
  'Intel::PUBKEY_HASH',
  'Intel::FILE_HASH',
  'Intel::FILE_NAME',
];

export function readZeekIntel(text: string): { rows: Record<string, string>[]; problems: string[] } {
  const problems: string[] = [];
  const rows: Record<string, string>[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) !== '') problems.push(`line ${lines.length}: no newline at the end`);
  let fields: string[] | null = null;
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line === '' && i === lines.length - 1) return;
    if (line.startsWith('#fields')) {
      if (fields) problems.push(`line ${n}: a second #fields header`);
      if (line[7] !== '\t') problems.push(`line ${n}: #fields must be followed by a tab`);
      fields = line.split('\t').slice(1);
      for (const req of ['indicator', 'indicator_type'])
        if (!fields.includes(req)) problems.push(`line ${n}: no ${req} field`);
      if (new Set(fields).size !== fields.length) problems.push(`line ${n}: a field named twice`);
      return;
    }
    if (line.startsWith('#')) return;
    if (!fields) return void problems.push(`line ${n}: data before the #fields header`);
    const v = line.split('\t');
    if (v.length !== fields.length)
      return void problems.push(`line ${n}: ${v.length} fields, the header names ${fields.length}`);
    const row: Record<string, string> = {};
    fields.forEach((f, k) => (row[f] = v[k]));
    if (v.some((x) => x === '' || x !== x.trim()))
      problems.push(`line ${n}: an empty field or one with spaces at an end`);
    if (!INTEL_TYPES.includes(row.indicator_type))
      problems.push(`line ${n}: unknown indicator_type ${row.indicator_type}`);
    if (row.indicator === '-') problems.push(`line ${n}: indicator unset`);
    if (
      row.indicator_type === 'Intel::ADDR' &&
      !/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/.test(row.indicator)
    )
      problems.push(`line ${n}: not an address: ${row.indicator}`);
    if (row.indicator_type === 'Intel::DOMAIN' && !/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/i.test(row.indicator))
      problems.push(`line ${n}: not a domain: ${row.indicator}`);
    rows.push(row);
  });
  if (!fields) problems.push('no #fields header');
  return { rows, problems };
}
