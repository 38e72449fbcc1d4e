/**
 * The CoinJoin rule that keeps common-input clustering from merging strangers. A transaction
 * looks like a CoinJoin when all three hold:
 *   - at least 3 inputs,
 *   - inputs from at least 3 distinct addresses,
 *   - at least 3 outputs of one identical value (the "denomination").
 * Such transactions are flagged at index time (flag 4 in chain_txs.flags) and skipped by
 * clustering, which counts them. Batched payouts with three equal payments from three addresses
 * of one wallet are skipped too: the rule prefers a missed merge to a false one.
 */
export const COINJOIN_MIN_INPUTS = 3;
export const COINJOIN_MIN_INPUT_ADDRESSES = 3;
export const COINJOIN_MIN_EQUAL_OUTPUTS = 3;

export function looksLikeCoinJoin(
  inputs: number,
  inputAddresses: number[],
  outValue: Float64Array,
  o0: number,
  o1: number,
): boolean {
  if (inputs < COINJOIN_MIN_INPUTS || o1 - o0 < COINJOIN_MIN_EQUAL_OUTPUTS) return false;
  if (new Set(inputAddresses).size < COINJOIN_MIN_INPUT_ADDRESSES) return false;
  const counts = new Map<number, number>();
  for (let o = o0; o < o1; o++) {
    const v = outValue[o];
    if (v === 0) continue;
    const c = (counts.get(v) ?? 0) + 1;
    if (c >= COINJOIN_MIN_EQUAL_OUTPUTS) return true;
    counts.set(v, c);
  }
  return false;
}
