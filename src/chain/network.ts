/** Network parameters: block-file magic, address version bytes, bech32 human-readable part. */
export interface ChainNetwork {
  name: string;
  coin: 'BTC' | 'LTC';
  /** The four message-start bytes that precede each block in blk*.dat, as hex in file order. */
  magic: string;
  pubkeyHash: number;
  scriptHash: number;
  /** Legacy P2SH version still seen on Litecoin (the '3' prefix before 'M'). */
  scriptHashAlt?: number;
  bech32: string;
  /** Default JSON-RPC port. */
  rpcPort: number;
  /** Subdirectory of the data directory that holds blocks/ (empty for mainnet). */
  dataSubdir: string;
  /** scrypt proof of work (Litecoin) rather than SHA-256d; matters only when building blocks. */
  scryptPow: boolean;
}

export const NETWORKS: Record<string, ChainNetwork> = {
  bitcoin: {
    name: 'bitcoin',
    coin: 'BTC',
    magic: 'f9beb4d9',
    pubkeyHash: 0x00,
    scriptHash: 0x05,
    bech32: 'bc',
    rpcPort: 8332,
    dataSubdir: '',
    scryptPow: false,
  },
  testnet: {
    name: 'testnet',
    coin: 'BTC',
    magic: '0b110907',
    pubkeyHash: 0x6f,
    scriptHash: 0xc4,
    bech32: 'tb',
    rpcPort: 18332,
    dataSubdir: 'testnet3',
    scryptPow: false,
  },
  signet: {
    name: 'signet',
    coin: 'BTC',
    magic: '0a03cf40',
    pubkeyHash: 0x6f,
    scriptHash: 0xc4,
    bech32: 'tb',
    rpcPort: 38332,
    dataSubdir: 'signet',
    scryptPow: false,
  },
  regtest: {
    name: 'regtest',
    coin: 'BTC',
    magic: 'fabfb5da',
    pubkeyHash: 0x6f,
    scriptHash: 0xc4,
    bech32: 'bcrt',
    rpcPort: 18443,
    dataSubdir: 'regtest',
    scryptPow: false,
  },
  litecoin: {
    name: 'litecoin',
    coin: 'LTC',
    magic: 'fbc0b6db',
    pubkeyHash: 0x30,
    scriptHash: 0x32,
    scriptHashAlt: 0x05,
    bech32: 'ltc',
    rpcPort: 9332,
    dataSubdir: '',
    scryptPow: true,
  },
  'litecoin-testnet': {
    name: 'litecoin-testnet',
    coin: 'LTC',
    magic: 'fdd2c8f1',
    pubkeyHash: 0x6f,
    scriptHash: 0x3a,
    scriptHashAlt: 0xc4,
    bech32: 'tltc',
    rpcPort: 19332,
    dataSubdir: 'testnet4',
    scryptPow: true,
  },
  'litecoin-regtest': {
    name: 'litecoin-regtest',
    coin: 'LTC',
    magic: 'fabfb5da',
    pubkeyHash: 0x6f,
    scriptHash: 0x3a,
    scriptHashAlt: 0xc4,
    bech32: 'rltc',
    rpcPort: 19443,
    dataSubdir: 'regtest',
    scryptPow: true,
  },
};

export function networkByName(name: string): ChainNetwork {
  const n = NETWORKS[name];
  if (!n) throw new Error(`unknown network ${name}; one of ${Object.keys(NETWORKS).join(', ')}`);
  return n;
}

/** The magic as a little-endian uint32, for comparing with readUInt32LE at a file offset. */
export function magicWord(n: ChainNetwork): number {
  return Buffer.from(n.magic, 'hex').readUInt32LE(0);
}
