/**
 * Small pieces the benchmarks that run a peer tool share: the CPU time of waited-for children
 * and the header of the classic pcap files they write as input.
 */
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) of waited-for children so far, from /proc/self/stat (Linux). */
export function childCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17; rest[0] is field 3.
  return (Number(rest[13]) + Number(rest[14])) / 100;
}

/** A little-endian, microsecond pcap file header (version 2.4, snaplen 262144). */
export function pcapFileHeader(linkType = 1): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(linkType, 20);
  return head;
}
