import { v5Packet, type V5Flow } from '../../src/netflow/encode.js';

/**
 * One NetFlow v5 datagram of `n` TCP flows from North Korean addresses (175.45.176.0/24) to
 * `dst`:3333, numbered from `from` (source address and port follow the number), stamped now:
 * what the serve --collect tests send to the collector.
 */
export function poolFlowsV5(n: number, from: number, dst: string, seq: number): Buffer {
  const flows: V5Flow[] = Array.from({ length: n }, (_, i) => ({
    src: `175.45.176.${1 + ((from + i) % 200)}`,
    dst,
    srcPort: 40000 + from + i,
    dstPort: 3333,
    proto: 6,
    packets: 10,
    bytes: 1000,
    first: 1000,
    last: 2000,
    tcpFlags: 0x1b,
  }));
  return v5Packet({ sysUptime: 5000, unixSecs: Math.floor(Date.now() / 1000), seq }, flows);
}
