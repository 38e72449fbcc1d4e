// Importing this module registers every input format (one line per reader module).
// netflow-pcap first: its sniffer claims only captures of NetFlow/IPFIX export traffic.
import '../netflow/pcap-reader.js';
import '../capture/formats.js';
import '../netflow/nfdump-csv.js';
import '../netflow/zeek.js';
export {};
