/** What the server tests share: the January 2022 OFAC SDN list as version 1 and a listed address. */
import { parseSdnCsv } from '../../src/sanctions/sdn-csv.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { readFileSync } from 'node:fs';
import type { AuditEntry } from '../../src/server/audit.js';
import type { ApiKeyFile } from '../../src/server/keys.js';

export const FIX = 'test/fixtures/sanctions';
/** Listed in the January 2022 SDN CSV (TIAN, Yinyin). */
export const TIAN = '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ';

/** Load the SDN CSV triple into `index` as version 1 of ofac-sdn. */
export function addJanuaryList(index: ScreeningIndex): ScreeningIndex {
  const l = parseSdnCsv([`${FIX}/sdn.csv`, `${FIX}/add.csv`, `${FIX}/alt.csv`], { published: '2022-01' });
  index.addVersion(
    { versionId: 1, list: 'ofac-sdn', published: '2022-01', checksum: l.checksum },
    l.entities,
    l.addresses,
  );
  return index;
}

/** The usual start of a server test: the list in `index` and a key "analyst one" in `keys`. */
export function listAndKey(index: ScreeningIndex, keys: ApiKeyFile): { key: string; keyId: string } {
  addJanuaryList(index);
  const c = keys.create('analyst one');
  return { key: c.key, keyId: c.record.id };
}

/** The audit log's entries (none when the file was never written). */
export function readAudit(path: string): AuditEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEntry);
}
