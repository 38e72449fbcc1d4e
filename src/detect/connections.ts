/**
 * What earlier flows of the same connection said. A flow table ends a flow after a minute of
 * silence and the connection continues in a new flow whose payload sample (mining.submit,
 * mining.notify) names no wallet or pool; the coin learned from the first flow carries over, as
 * a claim of the same strength as the source it came from (coin-rule.ts).
 */
import type { FlowBatch } from '../flow/record.js';
import { bestClaim, claimsOf, coinRank, type CoinClaim } from './coin-rule.js';
import type { Detection } from './types.js';

export const EARLIER = ' (earlier flow of the connection)';

export class ConnectionMemory {
  private claims = new Map<string, CoinClaim>();

  constructor(private readonly max = 65536) {}

  private key(b: FlowBatch, i: number, label: string): string {
    return `${label} ${b.proto[i]} ${b.srcText(i)} ${b.srcPort[i]} ${b.dstText(i)} ${b.dstPort[i]}`;
  }

  /**
   * Remember a payload detection's strongest claim; give it the connection's earlier claim when
   * that one is stronger than its own (or it has none).
   */
  apply(b: FlowBatch, i: number, d: Detection): void {
    if (d.confidence !== 'payload') return;
    const k = this.key(b, i, d.label);
    const own = claimsOf(d);
    const mine = bestClaim(own);
    const earlier = this.claims.get(k);
    if (earlier && (!mine || coinRank(earlier.from) > coinRank(mine.from))) {
      d.evidence.coinClaims = [
        { from: earlier.from.replace(EARLIER, '') + EARLIER, coin: earlier.coin },
        ...own,
      ];
      if (!mine) {
        d.coin = earlier.coin;
        d.evidence.coinFrom = earlier.from.replace(EARLIER, '') + EARLIER;
      }
      return;
    }
    if (!mine) return;
    this.claims.delete(k);
    this.claims.set(k, mine);
    if (this.claims.size > this.max) this.claims.delete(this.claims.keys().next().value as string);
  }
}
