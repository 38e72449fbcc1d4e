// Importing this module registers every input format (one line per reader module).
// detectFormat takes the first sniffer that matches: keep capture/formats.js after readers with
// more specific sniffers over pcap files (netflow-pcap), since it claims any pcap magic number.
import '../capture/formats.js';
