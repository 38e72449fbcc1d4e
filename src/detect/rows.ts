/** A detection as a store row. */
import type { DetectionInput } from '../store/detections.js';
import { CONFIDENCE_RANK, type Detection } from './types.js';

export function detectionRow(flowId: number, d: Detection, detectorVersion: string): DetectionInput {
  return {
    flowId,
    label: d.label,
    coin: d.coin,
    confidence: d.confidence,
    confidenceRank: CONFIDENCE_RANK[d.confidence],
    evidence: d.evidence,
    artifacts: d.artifacts,
    listVersion: d.listVersion ?? '',
    detectorVersion,
  };
}
