// Importing this module registers every input format (one line per reader module).
import '../capture/formats.js';
