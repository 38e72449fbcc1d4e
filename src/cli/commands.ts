// Every CLI command, one module each, named as its command; a command module exports
// register(program). Loaded on demand: `coinradar summary` loads summary.js and what it needs, not
// fastify, the chain parser and the rest (start-up was ~0.5 CPU-s with every module loaded).
import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

export const COMMAND_MODULES: Record<string, () => Promise<CommandModule>> = {
  demo: () => import('./demo.js'),
  ingest: () => import('./ingest.js'),
  collect: () => import('./collect.js'),
  flows: () => import('./flows.js'),
  summary: () => import('./summary.js'),
  geo: () => import('./geo.js'),
  detect: () => import('./detect.js'),
  evaluate: () => import('./evaluate.js'),
  detections: () => import('./detections.js'),
  artifacts: () => import('./artifacts.js'),
  sanctions: () => import('./sanctions.js'),
  screen: () => import('./screen.js'),
  serve: () => import('./serve.js'),
  apikey: () => import('./apikey.js'),
  scenario: () => import('./scenario.js'),
  series: () => import('./series.js'),
  surge: () => import('./surge.js'),
  hosts: () => import('./hosts.js'),
  report: () => import('./report.js'),
  estimate: () => import('./estimate.js'),
  chain: () => import('./chain.js'),
  completion: () => import('./completion.js'),
  export: () => import('./export.js'),
  indicators: () => import('./indicators.js'),
};

/** The modules to register for these arguments: the named command's alone, or every one (help, unknown). */
export async function commandsFor(args: string[]): Promise<CommandModule[]> {
  const name = args.find((a) => !a.startsWith('-'));
  const only = name !== undefined && Object.hasOwn(COMMAND_MODULES, name) ? COMMAND_MODULES[name] : null;
  if (only) return [await only()];
  return Promise.all(Object.values(COMMAND_MODULES).map((load) => load()));
}
