/**
 * Scans: TCP attempts without data on crypto ports are counted as `scan`, not `crypto-port`, and
 * the port-based series and host lists leave them out; an HTTP flow on a pool port gets no port
 * hint. The SQL form of the rule (series, hosts) is checked against the TypeScript one on a
 * generated world whose scanners send SYNs to crypto ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { isScanAttempt, SCAN_ATTEMPT_SQL } from '../../src/detect/scan.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/flow/record.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { dotted, withWorldStore } from '../helpers/world-store.js';
import { flowRecord } from './flow-record.js';

const detector = createDetector(null);
const labels = (over: Parameters<typeof flowRecord>[0]) =>
  detectFlow(detector, flowRecord(over)).map((d) => d.label);

test('attempts without data on crypto ports are scans; sessions stay crypto-port', () => {
  // A SYN nobody answered (3333), a SYN refused by RST (4444), a bare RST (backscatter, 5555).
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: TCP_SYN, packets: 2, bytes: 120 }), ['scan']);
  assert.deepEqual(
    labels({
      dstPort: 4444,
      tcpFlags: TCP_SYN | TCP_RST | TCP_ACK,
      packets: 1,
      bytes: 44,
      revPackets: 1,
      revBytes: 40,
    }),
    ['scan'],
  );
  assert.deepEqual(labels({ srcPort: 5555, dstPort: 41000, tcpFlags: TCP_RST, packets: 1, bytes: 40 }), [
    'scan',
  ]);
  // An IPv6 SYN with options is 80 bytes: still an attempt.
  assert.deepEqual(labels({ ipVersion: 6, dstPort: 3333, tcpFlags: TCP_SYN, packets: 1, bytes: 80 }), [
    'scan',
  ]);
  // A session that pushed data, or closed with FIN, or carried more than headers, is not a scan.
  const session = TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN;
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: session, packets: 20, bytes: 2400 }), ['crypto-port']);
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: TCP_SYN | TCP_ACK | TCP_FIN, packets: 4, bytes: 160 }), [
    'crypto-port',
  ]);
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: TCP_SYN | TCP_ACK, packets: 3, bytes: 1500 }), [
    'crypto-port',
  ]);
  // Records without flags (some exporters) and UDP are never scans.
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: 0, packets: 1, bytes: 40 }), ['crypto-port']);
  assert.deepEqual(labels({ proto: 17, dstPort: 30303, tcpFlags: 0, packets: 1, bytes: 60 }), [
    'crypto-port',
  ]);
  // A flow with a payload sample carried data, whatever its flags.
  assert.deepEqual(
    labels({ dstPort: 3333, tcpFlags: TCP_SYN, packets: 1, bytes: 60, payloadFwd: Buffer.from('{"id":1}') }),
    ['crypto-port'],
  );
  // Off the crypto ports nothing is reported: a scan of 22 is no business of this detector.
  assert.deepEqual(labels({ dstPort: 22, tcpFlags: TCP_SYN, packets: 1, bytes: 44 }), []);
  const [d] = detectFlow(detector, flowRecord({ dstPort: 3333, tcpFlags: TCP_SYN, packets: 2, bytes: 120 }));
  assert.equal(d.confidence, 'port');
  assert.equal(d.coin, '');
  assert.equal(d.evidence.rule, 'port.scan');
  assert.equal(d.evidence.port, 3333);
  assert.equal(d.evidence.server, 'destination');
});

test('HTTP or a stager on a pool port is not called Stratum by port; getwork over HTTP still is mining', () => {
  const get = Buffer.from('GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n');
  const ok = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const flags = TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN;
  assert.deepEqual(
    labels({ dstPort: 8888, tcpFlags: flags, packets: 6, bytes: 600, payloadFwd: get, payloadRev: ok }),
    [],
  );
  assert.deepEqual(labels({ dstPort: 4444, tcpFlags: flags, packets: 6, bytes: 600, payloadRev: ok }), []);
  const getwork = Buffer.from(
    'POST / HTTP/1.1\r\nHost: pool:8888\r\nUser-Agent: cgminer/4.9.0\r\nContent-Length: 44\r\n\r\n{"method": "getwork", "params": [], "id": 0}',
  );
  assert.deepEqual(labels({ dstPort: 8888, tcpFlags: flags, packets: 6, bytes: 600, payloadFwd: getwork }), [
    'getblocktemplate',
  ]);
  // A stager on 4444 (a 4-byte length, then a PE image) is neither JSON nor TLS: not Stratum.
  const stager = Buffer.concat([
    Buffer.from([0x00, 0x7c, 0x02, 0x00]),
    Buffer.from('MZ\x90\x00\x03', 'latin1'),
  ]);
  assert.deepEqual(
    labels({ dstPort: 4444, tcpFlags: flags, packets: 60, bytes: 90000, payloadRev: stager }),
    [],
  );
  // JSON that is not Stratum keeps the hint (it is on a pool port, nothing more is claimed), and a
  // P2P port keeps it whatever the bytes (Bitcoin's v2 transport is encrypted).
  const json = Buffer.from('{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}\n');
  assert.deepEqual(labels({ dstPort: 3333, tcpFlags: flags, packets: 6, bytes: 600, payloadFwd: json }), [
    'crypto-port',
  ]);
  assert.deepEqual(labels({ dstPort: 8333, tcpFlags: flags, packets: 6, bytes: 600, payloadFwd: stager }), [
    'crypto-port',
  ]);
  // TLS on a pool port keeps its port hint (it may be Stratum over TLS).
  assert.deepEqual(
    labels({
      dstPort: 3333,
      tcpFlags: flags,
      packets: 6,
      bytes: 600,
      payloadFwd: Buffer.from([0x16, 3, 1, 0, 5]),
    }),
    ['crypto-port'],
  );
});

test('scans in a generated world: SQL and TypeScript agree; series and hosts leave them out; detections count them', async () => {
  await withWorldStore(
    { seed: 5, hosts: 12, days: 6, miners: 2, startMs: Date.UTC(2017, 4, 12) },
    async (world, store, series) => {
      const flows = await store.flows({ where: 'proto = 6' });
      const [{ n: all }] = await store.db.all<{ n: number }>(
        'SELECT count(*) AS n FROM flow_rows WHERE proto = 6',
      );
      assert.equal(flows.length, all);
      const bySql = new Set(
        (await store.db.all<{ id: number }>(`SELECT id FROM flow_rows WHERE ${SCAN_ATTEMPT_SQL}`)).map((r) =>
          Number(r.id),
        ),
      );
      let scans = 0;
      for (const f of flows) {
        const ts = isScanAttempt(
          { proto: f.proto, srcPort: f.sport, dstPort: f.dport, payloadFwd: null, payloadRev: null },
          {
            tcpFlags: f.tcp_flags,
            packets: f.packets,
            bytes: f.bytes,
            revPackets: f.rev_packets,
            revBytes: f.rev_bytes,
          },
        );
        assert.equal(bySql.has(f.id), ts, `flow ${f.id} flags ${f.tcp_flags}`);
        if (ts) scans++;
      }
      const ports = CRYPTO_PORTS.join(', ');
      const [{ n: cryptoScans }] = await store.db.all<{ n: number }>(
        `SELECT count(*) AS n FROM flow_rows WHERE dst_port IN (${ports}) AND ${SCAN_ATTEMPT_SQL}`,
      );
      assert.ok(scans > 50 && cryptoScans > 10, `${scans} scans, ${cryptoScans} on crypto ports`);

      // The crypto-port series without scans is the series with them, less the scans.
      const q = { bucket: 'day' as const, scope: { dstPorts: CRYPTO_PORTS } };
      const withScans = await series.series(q);
      const without = await series.series({ ...q, scope: { ...q.scope, noScans: true } });
      const sum = (d: typeof withScans) => d.buckets.reduce((s, b) => s + b.flows, 0);
      assert.equal(sum(withScans) - sum(without), cryptoScans);

      // Hosts by port: every listed host has crypto-port or pool activity beyond scans; the miners are there.
      const pools = [...new Set(world.crypto.filter((c) => c.pool).map((c) => dotted(c.pool!.ip)))];
      const hosts = await hostProfiles(store.db, {
        scope: { country: 'KP' },
        ports: CRYPTO_PORTS,
        addresses: pools,
      });
      for (const m of world.crypto.filter((c) => c.kind === 'miner'))
        assert.ok(
          hosts.some((h) => h.host === dotted(m.ip)),
          `miner ${dotted(m.ip)} listed`,
        );
      const top = await series.topHosts({ country: 'KP' }, CRYPTO_PORTS, pools, 1000);
      assert.deepEqual(top.map((h) => h.host).sort(), hosts.map((h) => h.host).sort());
      // The hosts' flows are the scope's crypto-port and pool flows less the scans (each flow has one host).
      const poolList = pools.map((p) => `'${p}'`).join(', ') || "''";
      const activity = `(src_country = 'KP' OR dst_country = 'KP') AND (dst_port IN (${ports}) OR src_port IN (${ports})
         OR dst IN (${poolList}) OR src IN (${poolList}))`;
      const count = async (cond: string) =>
        Number(
          (
            await store.db.all<{ n: number }>(`SELECT count(*) AS n FROM flows WHERE ${activity} AND ${cond}`)
          )[0].n,
        );
      const listed = hosts.reduce((s, h) => s + h.flows, 0);
      assert.equal(listed, await count(`NOT ${SCAN_ATTEMPT_SQL}`));
      assert.ok((await count(SCAN_ATTEMPT_SQL)) > 0, 'the scope has scans that are left out');

      // Detection: the scans of crypto ports are `scan` detections, and no scan is a crypto-port one.
      await redetectStore(store, await openDetectionStore(store), detector);
      const rows = await store.db.all<{ label: string; n: number; scans: number }>(
        `SELECT label, count(*) AS n, count(*) FILTER (WHERE ${SCAN_ATTEMPT_SQL}) AS scans
         FROM detections d JOIN flow_rows f ON f.id = d.flow_id GROUP BY label`,
      );
      const by = new Map(rows.map((r) => [r.label, r]));
      assert.equal(Number(by.get('scan')?.n), Number(by.get('scan')?.scans));
      assert.ok(Number(by.get('scan')?.n) >= cryptoScans, JSON.stringify(rows));
      assert.equal(Number(by.get('crypto-port')?.scans ?? 0), 0);
      // With the detections stored, scan detections make no host activity: the profiles are the
      // same with them and without them.
      const profile = async () =>
        (await hostProfiles(store.db, { scope: { country: 'KP' }, ports: CRYPTO_PORTS, addresses: pools }))
          .map((h) => `${h.host} ${h.flows} ${h.labels.join(',')}`)
          .sort();
      const profiled = await profile();
      await store.db.run("DELETE FROM detections WHERE label = 'scan'");
      assert.deepEqual(profiled, await profile());
      assert.ok(!profiled.some((h) => h.includes('scan/port')));
    },
  );
});
