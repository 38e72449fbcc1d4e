/**
 * Targets for the chain parsers: a serialized block (ParsedBlock.parse, then every output script
 * through classifyScript and the coinbase helpers) and a blk*.dat file (scanBlockFile, which
 * walks every record and resynchronises on the magic after a bad one).
 */
import { ChainParseError, ParsedBlock, coinbaseHeight, coinbaseText } from '../../src/chain/block.js';
import { scanBlockFile } from '../../src/chain/blkfile.js';
import { classifyScript, scriptPayload } from '../../src/chain/script.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { check, type FuzzTarget } from '../target.js';

const MAGIC = Buffer.from('f9beb4d9', 'hex');
const TOKENS = [
  '\xfd',
  '\xfe',
  '\xff',
  '\xfd\xff\xff',
  '\xfe\xff\xff\xff\xff',
  '\x00\x01',
  '\x00\x08',
  '\x00\x09',
  '\xff\xff\xff\xff',
  '\x76\xa9\x14',
  '\x88\xac',
  '\xa9\x14',
  '\x00\x14',
  '\x00\x20',
  '\x51\x20',
  '\x6a',
];

/** Structural promises of a parsed block: every index points inside the block. */
function checkParsed(b: ParsedBlock): void {
  const { start, end } = b;
  check(
    b.txIn[b.txCount] === b.inCount && b.txOut[b.txCount] === b.outCount,
    'tx → input/output index totals',
  );
  for (let t = 0; t < b.txCount; t++) {
    check(
      b.txStart[t] >= start && b.txEnd[t] <= end && b.txStart[t] < b.txEnd[t],
      `tx ${t} outside the block`,
    );
    check(b.txIn[t] <= b.txIn[t + 1] && b.txOut[t] <= b.txOut[t + 1], `tx ${t} index not monotonic`);
  }
  for (let i = 0; i < b.inCount; i++) {
    check(b.inPrev[i] >= start && b.inPrev[i] + 36 <= end, `input ${i} outpoint outside the block`);
    check(b.inScript[i] >= start && b.inScript[i] + b.inScriptLen[i] <= end, `input ${i} script outside`);
  }
  for (let o = 0; o < b.outCount; o++) {
    const so = b.outScript[o];
    const sl = b.outScriptLen[o];
    check(so >= start && so + sl <= end, `output ${o} script outside the block`);
    check(Number.isFinite(b.outValue[o]) && b.outValue[o] >= 0, `output ${o} value ${b.outValue[o]}`);
    classifyScript(b.buf, so, sl);
    check(
      scriptPayload.off >= so && scriptPayload.off + scriptPayload.len <= so + sl,
      `output ${o}: script payload outside its script`,
    );
  }
  if (b.inCount > 0) {
    coinbaseHeight(b.buf, b.inScript[0], b.inScriptLen[0]);
    coinbaseText(b.buf, b.inScript[0], b.inScriptLen[0]);
  }
}

const parser = new ParsedBlock();

export const chainTargets: FuzzTarget[] = [
  {
    name: 'raw-block',
    description: 'a serialized block (legacy, segwit, MWEB flag) → ParsedBlock.parse with txids and wtxids',
    invariants: [
      'no exception other than ChainParseError, with an offset inside the block',
      'every transaction, input, output and script lies inside the block; index totals agree',
      'classifyScript payload lies inside its script; coinbase helpers never throw',
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: TOKENS,
    async run(input) {
      try {
        parser.parse(input, 0, input.length, { txids: true, wtxids: true });
      } catch (e) {
        if (e instanceof ChainParseError)
          check(
            e.offset >= 0 && e.offset <= input.length,
            `ChainParseError offset ${e.offset} outside the block`,
          );
        throw e;
      }
      checkParsed(parser);
      parser.merkleOk();
    },
    expected: (e) => e instanceof ChainParseError,
  },
  {
    name: 'blk-file',
    description: 'a blk*.dat file (magic, length, block records, preallocated zeros) → scanBlockFile',
    invariants: [
      'never throws: every bad record is a problem with its file offset, then resync on the magic',
      "records returned = 'chain.block_records'; each lies inside the file, in order, not overlapping",
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: [...TOKENS, '\xf9\xbe\xb4\xd9', '\x00\x00\x00\x00\x00\x00\x00\x00'],
    async run(input) {
      const d = new Diagnostics(10);
      const recs = scanBlockFile(input, 'blk00000.dat', 0, MAGIC, d);
      check(recs.length === d.get('chain.block_records'), `${recs.length} records, counter says otherwise`);
      let prevEnd = 0;
      for (const r of recs) {
        check(
          r.offset >= prevEnd + 8 && r.offset + r.length <= input.length,
          `record at ${r.offset} misplaced`,
        );
        check(input.readUInt32LE(r.offset - 4) === r.length, `record at ${r.offset}: length field disagrees`);
        prevEnd = r.offset + r.length;
      }
      for (const p of d.problems)
        check(p.offset >= 0 && p.offset <= input.length, `problem offset ${p.offset} outside the file`);
    },
  },
];
