/**
 * Server ports the behaviour model does not judge (the model's `gate.serverPortsNotJudged`).
 *
 * The registered ports of protocols whose long-lived sessions look like a miner's in flow counters
 * — a shell with output scrolling, a VPN's pings, IMAP IDLE, MQTT and push channels, remote
 * desktops — and whose servers are not mining pools; and the peer-to-peer ports of coin nodes,
 * whose connections are not mining (the port hint names them: `port.well-known`). None is a port of
 * the 2018 pool catalogue (88 ports) or of a labelled miner in the training data (the test checks
 * both). Port 443, 80, 25 and 8080 stay judged: pools listen there too.
 *
 * What it costs: a miner whose pool (or proxy) listens on one of these ports is not found from
 * flows alone; with payload the Stratum rules still find it.
 */
export const SERVICE_PORTS_NOT_JUDGED: readonly (readonly [number, string])[] = [
  [22, 'SSH'],
  [23, 'Telnet'],
  [110, 'POP3'],
  [143, 'IMAP'],
  [993, 'IMAP over TLS'],
  [995, 'POP3 over TLS'],
  [1194, 'OpenVPN'],
  [1723, 'PPTP'],
  [1883, 'MQTT'],
  [2195, 'Apple push (legacy)'],
  [3389, 'RDP'],
  [5222, 'XMPP'],
  [5223, 'Apple push / XMPP over TLS'],
  [5228, 'Google push (FCM)'],
  [5900, 'VNC'],
  [8333, 'Bitcoin P2P'],
  [8883, 'MQTT over TLS'],
  [9333, 'Litecoin P2P'],
  [18080, 'Monero P2P'],
  [18333, 'Bitcoin testnet P2P'],
  [30303, 'Ethereum P2P'],
];

/** A lookup by port: 1 where the model does not judge. */
export function notJudgedTable(ports: readonly number[] | undefined): Uint8Array {
  const t = new Uint8Array(65536);
  for (const p of ports ?? []) t[p] = 1;
  return t;
}
