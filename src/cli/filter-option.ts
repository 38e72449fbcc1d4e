// `--filter` on every command that reads flows: nfdump's filter language, compiled by
// src/flow/nfdump-filter.ts and ANDed with the raw SQL `--where` (flowCondition).
/** What `--filter` says in every command's help. */
export const FILTER_HELP = `nfdump filter, e.g. 'proto tcp and dst port 8333 and net 175.45.176.0/22' (ANDed with --where)`;
