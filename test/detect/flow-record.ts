/** A FlowRecord for matcher tests: a TCP flow 10.0.0.1:40000 -> 10.0.0.2:3333 unless overridden. */
import type { FlowRecord } from '../../src/flow/record.js';

export function flowRecord(over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    firstMs: 0,
    lastMs: 0,
    ipVersion: 4,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    srcPort: 40000,
    dstPort: 3333,
    proto: 6,
    packets: 1,
    bytes: 100,
    revPackets: 0,
    revBytes: 0,
    tcpFlags: 0,
    samplingRate: 1,
    exporter: '',
    observationDomain: 0,
    source: 'test',
    position: 0,
    payloadFwd: null,
    payloadRev: null,
    ...over,
  };
}
