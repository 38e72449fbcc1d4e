// Importing this module registers every input format (one line per reader module).
// netflow-pcap first: its sniffer claims only captures of NetFlow/IPFIX export traffic.
import '../netflow/pcap-reader.js';
// sflow-pcap likewise claims only captures of sFlow v5 datagrams.
import '../sflow/pcap-reader.js';
// detectFormat takes the first sniffer that matches: keep capture/formats.js after readers with
// more specific sniffers over pcap files (netflow-pcap), since it claims any pcap magic number.
import '../capture/formats.js';
import '../netflow/nfdump-csv.js';
import '../netflow/zeek.js';
import '../netflow/nfcapd.js';
export {};
