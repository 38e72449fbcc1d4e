/**
 * Real tunnel captures of the shared ndpi-train corpus (IP-in-IP, GRE/PPTP, VXLAN, GTP-U,
 * CAPWAP with Cisco's 802.11 frames) and the PPP / Cisco HDLC link types: every inner TCP/UDP
 * flow we store is one tshark lists in its conversation tables (tshark decodes these tunnels
 * too), with the same packets per direction. The captures are chosen by what we find in them
 * (any flow with a tunnel context), so a tunnel we stop opening shows as a kind missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NDPI_TRAIN, ndpiTrainCaptures, ndpiTrainSkip } from '../detect/ndpi-train.js';
import { asConversations, coinradarFlows, key, merged, tsharkReference } from './peers.js';

const hasTshark = spawnSync('tshark', ['-v']).status === 0;
/** Captures of link types we read since tunnels (PPP with IP, PPP with Cisco HDLC framing). */
const LINK_TYPES = ['dlt_ppp.pcap', 'BGP_Cisco_hdlc_slarp.pcap'];

test(
  'ndpi-train tunnels and PPP/HDLC links: our inner flows are tshark conversations, packets equal',
  { skip: ndpiTrainSkip || (!hasTshark && 'tshark not installed (apt-get install tshark)') },
  async () => {
    const kinds = new Map<string, number>();
    let checked = 0;
    const files: string[] = [];
    for (const f of ndpiTrainCaptures()) {
      const path = join(NDPI_TRAIN, f);
      const flows = await coinradarFlows(path, { idleTimeoutMs: Infinity, activeTimeoutMs: Infinity });
      const inner = flows.filter(
        (x) => (x.tunnel || LINK_TYPES.includes(f)) && (x.proto === 6 || x.proto === 17),
      );
      if (inner.length === 0) continue;
      files.push(f);
      for (const x of inner) if (x.tunnel) kinds.set(x.tunnel, (kinds.get(x.tunnel) ?? 0) + 1);
      const ref = tsharkReference(path);
      assert.ok(ref, `tshark failed on ${path}`);
      const theirs = merged(ref.conversations);
      for (const [k, c] of merged(asConversations(inner, () => 0))) {
        const t = theirs.get(k);
        assert.ok(t, `${f}: ${k} is not a tshark conversation`);
        assert.deepEqual([c.packetsAB, c.packetsBA], [t.packetsAB, t.packetsBA], `${f}: ${key(c)}`);
        checked++;
      }
    }
    console.log(
      `tunnels vs tshark: ${checked} inner flows in ${files.length} captures (${files.join(', ')}); kinds ${[...kinds].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
    for (const k of ['ipip', 'gre', 'vxlan', 'gtp-u', 'capwap'])
      assert.ok(kinds.has(k), `no ${k} flow found`);
    for (const f of LINK_TYPES) assert.ok(files.includes(f), `no flow read from ${f}`);
  },
);
