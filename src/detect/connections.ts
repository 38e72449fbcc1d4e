/**
 * What earlier flows of the same connection said. A flow table ends a flow after a minute of
 * silence and the connection continues in a new flow whose payload sample (mining.submit,
 * mining.notify) names no wallet or pool; the coin learned from the first flow carries over.
 */
import type { FlowBatch } from '../flow/record.js';
import type { Detection } from './types.js';

export class ConnectionMemory {
  private coins = new Map<string, string>();

  constructor(private readonly max = 65536) {}

  private key(b: FlowBatch, i: number, label: string): string {
    return `${label} ${b.proto[i]} ${b.srcText(i)} ${b.srcPort[i]} ${b.dstText(i)} ${b.dstPort[i]}`;
  }

  /** Remember a payload detection's coin, or fill in an unknown coin from the connection. */
  apply(b: FlowBatch, i: number, d: Detection): void {
    if (d.confidence !== 'payload') return;
    const k = this.key(b, i, d.label);
    if (d.coin) {
      this.coins.delete(k);
      this.coins.set(k, d.coin);
      if (this.coins.size > this.max) this.coins.delete(this.coins.keys().next().value as string);
      return;
    }
    const coin = this.coins.get(k);
    if (coin) {
      d.coin = coin;
      d.evidence.coinFrom = 'earlier flow of the connection';
    }
  }
}
