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
  /**
   * Hash of the genesis block (display order). Magic bytes are shared (Bitcoin and Litecoin regtest
   * both use fabfb5da) and getblockchaininfo's chain name is too ("main", "regtest"), so the
   * genesis hash is what tells the networks apart.
   */
  genesis: string;
  /** What getblockchaininfo.chain says on this network. */
  rpcChain: string;
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
    genesis: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    rpcChain: 'main',
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
    genesis: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    rpcChain: 'test',
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
    genesis: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
    rpcChain: 'signet',
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
    genesis: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    rpcChain: 'regtest',
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
    genesis: '12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2',
    rpcChain: 'main',
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
    genesis: '4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0',
    rpcChain: 'test',
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
    genesis: '530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9',
    rpcChain: 'regtest',
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

/** Networks whose block files start records with this magic (hex, file order). */
export function networksByMagic(magicHex: string): ChainNetwork[] {
  return Object.values(NETWORKS).filter((n) => n.magic === magicHex);
}

/** The network whose genesis block has this hash (display-order hex), or undefined. */
export function networkByGenesis(hashHex: string): ChainNetwork | undefined {
  return Object.values(NETWORKS).find((n) => n.genesis === hashHex.toLowerCase());
}

/**
 * What the data says wins; --network only asserts it. A mismatch names both, so that a Litecoin
 * regtest chain is never stored with Bitcoin mainnet addresses.
 */
export function assertNetwork(found: ChainNetwork, how: string, asserted?: ChainNetwork): ChainNetwork {
  if (asserted && asserted.name !== found.name)
    throw new Error(`--network ${asserted.name} does not match the data: ${how} is ${found.name}'s`);
  return found;
}
