import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { dataSet, encodeRecord, field, ipfixMessage, templateSet } from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { openFlowStore } from '../../src/store/open.js';

const FIELDS = [
  field(IE.sourceIPv4Address, 4),
  field(IE.destinationIPv4Address, 4),
  field(IE.sourceTransportPort, 2),
  field(IE.destinationTransportPort, 2),
  field(IE.protocolIdentifier, 1),
  field(IE.packetDeltaCount, 4),
  field(IE.octetDeltaCount, 4),
  field(IE.flowStartMilliseconds, 8),
  field(IE.flowEndMilliseconds, 8),
];
const T0 = Date.UTC(2017, 4, 17);

test('live collector runs detection on what it stores: a flow to a catalogued pool is infrastructure-confidence Stratum', async () => {
  const store = await openFlowStore(':memory:');
  try {
    const detection = await detectionHookFor(store);
    const c = await NetflowCollector.start({
      listen: 'udp://127.0.0.1:0',
      store,
      flushMs: 50,
      hooks: [detection.hook],
    });
    const sock = createSocket('udp4');
    // 94.23.199.191:3333 is Flypool in the 2018 mining-server catalogue; 8.8.8.8:53 is nothing of the kind.
    const msg = ipfixMessage({ exportSecs: T0 / 1000 + 60, domain: 1 }, [
      templateSet(false, [{ id: 256, fields: FIELDS }]),
      dataSet(256, [
        encodeRecord(FIELDS, ['175.45.176.10', '94.23.199.191', 40001, 3333, 6, 40, 4000, T0, T0 + 60_000]),
        encodeRecord(FIELDS, ['175.45.176.11', '8.8.8.8', 40002, 53, 17, 1, 70, T0, T0 + 1]),
      ]),
    ]);
    await new Promise<void>((res, rej) => sock.send(msg, c.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    sock.close();
    for (let k = 0; k < 100 && c.flows < 2; k++) await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    const r = await c.done;
    assert.equal(r.flows, 2);
    const det = await openDetectionStore(store);
    const rows = await det.detections({});
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].label, 'stratum');
    assert.equal(rows[0].confidence, 'infrastructure');
    assert.equal(rows[0].coin, 'ZEC');
    assert.equal(rows[0].dst, '94.23.199.191');

    // The same hook, after the collector, on a file ingest (as the demo ingests its payload
    // sample): it writes as ingest goes again — a hook left holding lost every detection here.
    const f = await ingestFile('test/fixtures/pcap/ndpi/mining.pcapng', { store, hooks: [detection.hook] });
    assert.equal(f.error, undefined);
    const after = await det.detections({});
    assert.ok(
      after.some((x) => x.label === 'stratum' && x.confidence === 'payload'),
      `the capture's Stratum sessions are in the store (${after.length} detections)`,
    );
  } finally {
    await store.close();
  }
});
