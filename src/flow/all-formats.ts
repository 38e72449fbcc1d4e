// Importing this module registers every input format (one line per reader module).
export {};
