/**
 * Builds the dense-id index from blocks in height order (BlockSci style): every transaction,
 * output and address gets the next integer id; inputs are resolved to the output they spend
 * (value, address) through an in-memory outpoint map made of typed arrays indexed by those ids.
 * Rows are buffered and written to the store in runs.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import {
  clearChainRows,
  emptyChainRows,
  TXF_COINBASE,
  TXF_COINJOIN,
  TXF_HOGEX,
  TXF_SEGWIT,
  type ChainRows,
  type ChainStore,
} from '../store/chain.js';
import { ADDRESS_TEXT_MAX, addressText, addressTextInto } from './address.js';
import { coinbaseHeight, coinbaseText, TX_MWEB, TX_SEGWIT, type ParsedBlock } from './block.js';
import { BytesMap } from './bytes-map.js';
import { looksLikeCoinJoin } from './coinjoin.js';
import { hashHex, hexInto, sha256 } from './hash.js';
import type { ChainNetwork } from './network.js';
import { classifyScript, hasAddress, ScriptType, scriptPayload, witnessUnknownPayload } from './script.js';
import type { SourcedBlock } from './source.js';

function growF64(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function growI32(a: Int32Array, need: number): Int32Array {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export interface IndexerOptions {
  /** Write to the store after this many buffered transactions (default 50,000: a small heap keeps GC cheap). */
  flushTxs?: number;
  /** Accept a block that does not follow the tip (a single raw block); its inputs stay unresolved. */
  allowGaps?: boolean;
}

export class ChainIndexer {
  private readonly txids = new BytesMap();
  private readonly addresses = new BytesMap();
  private txFirstOutput: Float64Array = new Float64Array(1 << 16);
  private txOutCount: Int32Array = new Int32Array(1 << 16);
  private outputValue: Float64Array = new Float64Array(1 << 17);
  private outputAddress: Int32Array = new Int32Array(1 << 17);
  private nextTx = 0;
  private nextOutput = 0;
  private nextAddress = 0;
  private tipHeight = -1;
  private tipHash: string | null = null;
  private readonly rows: ChainRows = emptyChainRows();
  private pendingTxs = 0;
  private readonly inAddr: number[] = [];

  private constructor(
    private readonly store: ChainStore,
    readonly net: ChainNetwork,
    private readonly diag: Diagnostics,
    private readonly opts: IndexerOptions,
  ) {}

  static async open(
    store: ChainStore,
    net: ChainNetwork,
    diag: Diagnostics,
    opts: IndexerOptions = {},
  ): Promise<ChainIndexer> {
    const st = await store.state();
    if (st.network && st.network !== net.name)
      throw new Error(`the index holds ${st.network}, not ${net.name}`);
    if (!st.network) await store.setNetwork(net.name);
    const ix = new ChainIndexer(store, net, diag, opts);
    if (st.txs > 0 || st.tipHeight >= 0) {
      const snap = await store.snapshot();
      snap.txids.forEach((h, i) => {
        const k = Buffer.from(h, 'hex').reverse();
        ix.txids.set(k, 0, 32, i);
      });
      ix.nextTx = snap.txids.length;
      ix.txFirstOutput = growF64(ix.txFirstOutput, ix.nextTx + 1);
      ix.txFirstOutput.set(snap.txFirstOutput);
      ix.txOutCount = growI32(ix.txOutCount, ix.nextTx + 1);
      ix.nextOutput = snap.outputValue.length;
      for (let t = 0; t < ix.nextTx; t++) {
        const end = t + 1 < ix.nextTx ? snap.txFirstOutput[t + 1] : ix.nextOutput;
        ix.txOutCount[t] = end - snap.txFirstOutput[t];
      }
      ix.outputValue = growF64(ix.outputValue, ix.nextOutput + 1);
      ix.outputValue.set(snap.outputValue);
      ix.outputAddress = growI32(ix.outputAddress, ix.nextOutput + 1);
      ix.outputAddress.set(snap.outputAddress);
      snap.addressKeys.forEach((k, i) => {
        const c = k.indexOf(':');
        const payload = Buffer.from(k.slice(c + 1), 'hex');
        ix.addresses.set(payload, 0, payload.length, i, Number(k.slice(0, c)));
      });
      ix.nextAddress = snap.addressKeys.length;
      ix.tipHeight = st.tipHeight;
      ix.tipHash = st.tipHash;
    }
    return ix;
  }

  /** The next height the index wants (resume point for sources). */
  get nextHeight(): number {
    return this.tipHeight + 1;
  }

  get counts(): { txs: number; outputs: number; addresses: number; tipHeight: number } {
    return {
      txs: this.nextTx,
      outputs: this.nextOutput,
      addresses: this.nextAddress,
      tipHeight: this.tipHeight,
    };
  }

  /** Bytes allocated for what the index keeps in memory between blocks: the txid and address
   * maps and the per-transaction and per-output typed arrays (capacity, not just the used part). */
  get memoryBytes(): number {
    return (
      this.txids.bytes +
      this.addresses.bytes +
      this.txFirstOutput.byteLength +
      this.txOutCount.byteLength +
      this.outputValue.byteLength +
      this.outputAddress.byteLength
    );
  }

  async add(s: SourcedBlock): Promise<void> {
    const b = s.block;
    let height = s.height < 0 ? this.tipHeight + 1 : s.height;
    if (height <= this.tipHeight) {
      this.diag.add('chain.blocks_already_indexed');
      return;
    }
    const prev = hashHex(b.prevHash);
    if (height !== this.tipHeight + 1 || (this.tipHash !== null && prev !== this.tipHash)) {
      if (!this.opts.allowGaps) {
        throw new Error(
          `${s.where}: block at height ${height} (parent ${prev}) does not extend the indexed tip ${this.tipHeight} (${this.tipHash}); re-ingest into a fresh --db after a reorganisation`,
        );
      }
      this.diag.add('chain.gaps');
      height = Math.max(height, this.tipHeight + 1);
    }
    this.addBlock(b, height);
    this.tipHeight = height;
    this.tipHash = hashHex(b.hash);
    if (this.pendingTxs >= (this.opts.flushTxs ?? 50_000)) await this.flush();
  }

  private addressId(type: ScriptType, buf: Buffer, off: number, len: number, height: number): number {
    let id = this.addresses.get(buf, off, len, type);
    if (id >= 0) return id;
    id = this.nextAddress++;
    this.addresses.set(buf, off, len, id, type);
    const a = this.rows.addresses;
    a.addressId.push(id);
    // Address text and key are written as bytes straight into the row columns: no string per address.
    const text = a.address;
    if (type === ScriptType.P2PK) text.push('p2pk:' + buf.toString('hex', off, off + len));
    else if (type === ScriptType.Multisig)
      text.push(
        'multisig:' +
          sha256(buf.subarray(off, off + len))
            .toString('hex')
            .slice(0, 40),
      );
    else if (type === ScriptType.WitnessUnknown)
      text.push(addressText(type, witnessUnknownPayload(buf, off, len), this.net));
    else {
      const at = text.reserve(ADDRESS_TEXT_MAX);
      text.commit(addressTextInto(type, buf, off, len, this.net, text.bytes, at));
    }
    a.scriptType.push(type);
    const key = a.key;
    let at = key.reserve(3 + len * 2);
    const start = at;
    key.bytes[at++] = 0x30 + type; // script types are 0..9
    key.bytes[at++] = 0x3a; // ':'
    at += hexInto(buf, off, len, key.bytes, at);
    key.commit(at - start);
    a.firstHeight.push(height);
    return id;
  }

  private addBlock(b: ParsedBlock, height: number): void {
    const buf = Buffer.from(b.buf.buffer, b.buf.byteOffset, b.buf.byteLength);
    const R = this.rows;
    const cbText = coinbaseText(
      buf,
      b.inScript[0] + coinbasePushLength(buf, b.inScript[0], b.inScriptLen[0]),
      b.inScriptLen[0] - coinbasePushLength(buf, b.inScript[0], b.inScriptLen[0]),
    );
    R.blocks.height.push(height);
    R.blocks.hash.push(hashHex(b.hash));
    R.blocks.prev.push(hashHex(b.prevHash));
    R.blocks.time.push(b.time);
    R.blocks.txCount.push(b.txCount);
    R.blocks.size.push(b.end - b.start);
    R.blocks.coinbaseText.push(cbText);
    R.blocks.coinbaseHeight.push(b.version >= 2 ? coinbaseHeight(buf, b.inScript[0], b.inScriptLen[0]) : -1);
    if (b.mwebBytes > 0) this.diag.add('chain.mweb_extension_bytes_skipped', b.mwebBytes);

    const T = R.txs;
    const O = R.outputs;
    const I = R.inputs;
    for (let t = 0; t < b.txCount; t++) {
      const txId = this.nextTx++;
      const i0 = b.txIn[t];
      const i1 = b.txIn[t + 1];
      const o0 = b.txOut[t];
      const o1 = b.txOut[t + 1];
      let flags = 0;
      if (b.txFlags[t] & TX_SEGWIT) flags |= TXF_SEGWIT;
      if (b.txFlags[t] & TX_MWEB) flags |= TXF_HOGEX;
      let inValue = 0;
      let unresolved = false;
      const inAddr = this.inAddr;
      inAddr.length = 0;
      const coinbase = t === 0 && b.isCoinbaseInput(i0);
      if (coinbase) {
        flags |= TXF_COINBASE;
      } else {
        for (let i = i0; i < i1; i++) {
          const prevTx = this.txids.get(buf, b.inPrev[i], 32);
          const vout = b.inVout[i];
          let spent = -1;
          let value = -1;
          let addr = -1;
          if (prevTx >= 0 && vout < this.txOutCount[prevTx]) {
            spent = this.txFirstOutput[prevTx] + vout;
            value = this.outputValue[spent];
            addr = this.outputAddress[spent];
            inValue += value;
            if (addr >= 0) inAddr.push(addr);
          } else {
            this.diag.add('chain.unresolved_inputs');
            unresolved = true;
          }
          I.txId.push(txId);
          I.vin.push(i - i0);
          I.spentOutput.push(spent);
          I.value.push(value);
          I.addressId.push(addr);
        }
      }
      // Outputs
      this.txFirstOutput = growF64(this.txFirstOutput, txId + 1);
      this.txOutCount = growI32(this.txOutCount, txId + 1);
      this.txFirstOutput[txId] = this.nextOutput;
      this.txOutCount[txId] = o1 - o0;
      this.outputValue = growF64(this.outputValue, this.nextOutput + (o1 - o0));
      this.outputAddress = growI32(this.outputAddress, this.nextOutput + (o1 - o0));
      let outValue = 0;
      const firstOutput = this.nextOutput;
      for (let o = o0; o < o1; o++) {
        const id = this.nextOutput++;
        const v = b.outValue[o];
        const type = classifyScript(buf, b.outScript[o], b.outScriptLen[o]);
        const addr = hasAddress(type)
          ? this.addressId(type, buf, scriptPayload.off, scriptPayload.len, height)
          : -1;
        this.outputValue[id] = v;
        this.outputAddress[id] = addr;
        outValue += v;
        O.outputId.push(id);
        O.txId.push(txId);
        O.vout.push(o - o0);
        O.value.push(v);
        O.scriptType.push(type);
        O.addressId.push(addr);
      }
      if (!coinbase && looksLikeCoinJoin(i1 - i0, inAddr, b.outValue, o0, o1)) flags |= TXF_COINJOIN;
      this.txids.set(b.txid, t * 32, 32, txId);
      T.txId.push(txId);
      const hexAt = T.txid.reserve(64);
      T.txid.commit(hexInto(b.txid, t * 32, 32, T.txid.bytes, hexAt, true));
      T.height.push(height);
      T.position.push(t);
      T.firstOutput.push(firstOutput);
      T.inCount.push(i1 - i0);
      T.outCount.push(o1 - o0);
      // Unknown when an input spends an output outside the index (a lone raw block).
      T.inValue.push(coinbase ? 0 : unresolved ? -1 : inValue);
      T.outValue.push(outValue);
      T.flags.push(flags);
      this.pendingTxs++;
    }
    this.diag.add('chain.blocks_indexed');
    this.diag.add('chain.txs_indexed', b.txCount);
  }

  async flush(): Promise<void> {
    if (this.rows.blocks.height.length === 0) return;
    await this.store.append(this.rows);
    clearChainRows(this.rows);
    this.pendingTxs = 0;
  }
}

/** Bytes taken by the BIP34 height push at the start of a coinbase scriptSig. */
function coinbasePushLength(b: Uint8Array, o: number, n: number): number {
  if (n < 1) return 0;
  const op = b[o];
  if (op >= 1 && op <= 8 && op + 1 <= n) return op + 1;
  return 0;
}
