/**
 * The demo's scenario, shorter (30 days, 14 hosts, onset 17 May 2017): its NetFlow v9 export and a
 * two-hour packet capture of three hosts (Stratum payloads), written under `dir`. The files the
 * engine and rollup acceptance tests ingest.
 */
import { join } from 'node:path';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';

export function writeDemoFiles(dir: string, seed: number): string[] {
  const world = buildWorld(
    defaultConfig({
      seed,
      startMs: Date.UTC(2017, 4, 1),
      days: 30,
      onsetMs: Date.UTC(2017, 4, 17),
      growth: 'exponential',
      hosts: 14,
    }),
  );
  writeScenario(world, join(dir, 'scenario'), { format: 'netflow9' });
  writeScenario(world, join(dir, 'scenario', 'capture'), {
    format: 'pcap',
    captureHosts: 3,
    captureHours: 2,
  });
  return [join(dir, 'scenario', 'export.pcap'), join(dir, 'scenario', 'capture', 'capture.pcap')];
}
