import { exportFindings, type ExportFindings } from '../../src/export/findings.js';
import { existingDetections } from '../../src/store/detections.js';
import { withWorldStore } from '../helpers/world-store.js';

/** The findings of a small generated world (4 miners from 17 May 2017, half with payload samples:
 * pools, wallets, an onset), exported twice from one store to show the export is deterministic. */
export async function worldFindings(): Promise<[ExportFindings, ExportFindings]> {
  let out: [ExportFindings, ExportFindings] | undefined;
  await withWorldStore(
    { hosts: 12, miners: 4, payloadHosts: 0.5, startMs: Date.UTC(2017, 3, 26), days: 35, moneroShare: 0.5 },
    async (_w, store, series) => {
      const o = { scope: { country: 'KP' }, scopeText: 'country:KP', scopeArgs: '--scope country:KP' };
      const det = await existingDetections(store);
      out = [await exportFindings(series, det, o), await exportFindings(series, det, o)];
    },
  );
  return out!;
}
