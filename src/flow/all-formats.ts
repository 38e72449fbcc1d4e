// Importing this module registers every input format (one line per reader module).
export {};
import '../netflow/nfdump-csv.js';
import '../netflow/zeek.js';
