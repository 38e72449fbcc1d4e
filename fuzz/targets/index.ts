/** Every fuzz target, by name (the order --list prints). */
import type { FuzzTarget } from '../target.js';
import { chainTargets } from './chain.js';
import { flowFileTargets } from './flow-files.js';
import { netflowTargets } from './netflow.js';
import { sanctionsTargets } from './sanctions.js';
import { refdataTargets } from './refdata.js';
import { serverTargets } from './server.js';
import { sflowTargets } from './sflow.js';
import { spoolTargets } from './spool.js';
import { trackerTargets } from './tracker.js';

export const targets: FuzzTarget[] = [
  ...flowFileTargets,
  ...netflowTargets,
  ...sflowTargets,
  ...chainTargets,
  ...sanctionsTargets,
  ...refdataTargets,
  ...serverTargets,
  ...trackerTargets,
  ...spoolTargets,
];

export function targetByName(name: string): FuzzTarget | undefined {
  return targets.find((t) => t.name === name);
}
