/** The one place a parser turns a listed (code, address) into a ListedAddress and reports a bad one. */
import type { Diagnostics } from '../flow/diagnostics.js';
import { checkAddress } from './address.js';
import type { ListedAddress } from './model.js';
import { quoteFound } from './skipped.js';

export interface ListingSite {
  source: string;
  line: number;
  /** Who lists it, for the message: "29585 KARASAVIDI, Dmitrii". */
  who: string;
}

export function listAddress(
  diag: Diagnostics,
  code: string,
  address: string,
  entityId: string | null,
  site: ListingSite,
): ListedAddress {
  const a: ListedAddress = { ...checkAddress(code, address), entityId, listCode: code.toUpperCase() };
  diag.add('addresses');
  if (!a.valid) {
    diag.add('addresses.invalid');
    diag.problem({
      source: site.source,
      offset: site.line,
      unit: 'line',
      kind: 'invalid-address',
      message: `${a.listCode} ${quoteFound(address)} of ${site.who}: ${a.problem}`,
    });
  }
  return a;
}
