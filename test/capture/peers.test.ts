/**
 * Our flows on real captures against the flows nDPI lists for them (its own expected output,
 * `.ndpi.out`); tshark.test.ts does the same against tshark.
 *
 * Packets must agree exactly per 5-tuple and direction. Where we split a 5-tuple into several
 * flows (a new SYN after RST/FIN, idle or active timeout) and the peer does not, our flows of
 * that 5-tuple are summed first; the split itself is tested in flow-table.test.ts.
 *
 * Bytes: nDPI and tshark count link-layer frame bytes (pcap origLen: Ethernet header, VLAN tags,
 * padding of short frames); we count IP-layer bytes, as NetFlow does (IPv4 total length, IPv6
 * 40 + payload length). So per direction their bytes − ours must be at least the 14-byte
 * Ethernet header per packet and at most header + one VLAN tag + the padding of a minimum-size
 * frame (up to 18 bytes for a 28-byte UDP/ICMP packet) + a 4-byte FCS, per packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asConversations, compare, coinradarFlows, key, parseNdpiOut } from './peers.js';

const NDPI = 'test/fixtures/pcap/ndpi';

const captures = readdirSync(NDPI).filter((f) => /\.pcap(ng)?$/.test(f));

test('nDPI fixtures: same 5-tuples and packets per direction as nDPI lists', async (t) => {
  assert.ok(captures.length >= 9);
  for (const f of captures) {
    await t.test(f, async () => {
      const path = join(NDPI, f);
      const ref = parseNdpiOut(readFileSync(`${path}.ndpi.out`, 'utf8'));
      const ours = asConversations(await coinradarFlows(path), (x, d) =>
        d === 'fwd' ? x.bytes : x.revBytes,
      );
      compare(path, ref, ours);
    });
  }
});

test('nDPI fixtures: with timeouts as long as the capture, flows are nDPI flows one to one', async () => {
  // nDPI's reader keeps a flow for the whole file. Without timeouts our only extra flows are TCP
  // 5-tuples reused after a close: each such later flow must open with a SYN.
  for (const f of captures) {
    const path = join(NDPI, f);
    const theirs = parseNdpiOut(readFileSync(`${path}.ndpi.out`, 'utf8'));
    const flows = await coinradarFlows(path, { idleTimeoutMs: Infinity, activeTimeoutMs: Infinity });
    const seen = new Set<string>();
    let reused = 0;
    flows.sort((a, b) => a.firstMs - b.firstMs);
    for (const [k, fl] of asConversations(flows, () => 0).map((c, i) => [key(c), flows[i]] as const)) {
      if (seen.has(k)) {
        reused++;
        assert.ok(fl.proto === 6 && fl.tcpFlags & 2, `${path}: ${k} split without a new SYN`);
      }
      seen.add(k);
    }
    assert.equal(flows.length - reused, theirs.length, path);
  }
});
