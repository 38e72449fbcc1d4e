/* global process, console */
// Rebuilds the flow-behaviour model (src/detect/data/behaviour-model.json) and its dataset.
//   npm run train:classifier                  every source again: captures (pcap flows and
//                                             softflowd → nfcapd → nfdump NetFlow), scenario, keep-alives
//   npm run train:classifier -- --from-dataset  retrain from the shipped dataset file only
//   npm run train:classifier -- --variants [0,3,…]  cross-validate the setups of variants.ts on the
//                                             shipped dataset (all, or those indices) and print a
//                                             markdown table; writes nothing
//   npm run train:classifier -- --variants … --held-out  also fit each variant on all its rows and
//                                             score it on the held-out seeds and families (heldout.ts)
//   npm run train:classifier -- --variants … --list  also list the ordinary windows of real captures
//                                             each variant's CV calls mining (one a line)
//   options: --data DIR (default ../shared/data, or $COINRADAR_SHARED_DATA), --no-netflow
// Deterministic: the same inputs give the same bytes.
import { register } from 'tsx/esm/api';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

register();
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const t = await import('../src/detect/classifier/train.ts');
const datasetPath = 'src/detect/data/behaviour-dataset.json';
const modelPath = 'src/detect/data/behaviour-model.json';
if (args.includes('--variants')) {
  const v = await import('../src/detect/classifier/variants.ts');
  const pick = opt('--variants');
  const which = pick && /^[\d,]+$/.test(pick) ? pick.split(',').map(Number) : v.VARIANTS.map((_, i) => i);
  const dataset = JSON.parse(readFileSync(datasetPath, 'utf8'));
  const heldOut = [];
  const shipped = args.includes('--held-out')
    ? (await import('../src/detect/classifier/model.ts')).shippedModel()
    : null;
  console.log(v.VARIANT_HEADER);
  for (const i of which) {
    const variant = v.VARIANTS[i];
    if (!variant) throw new Error(`--variants: no variant ${i} (0..${v.VARIANTS.length - 1})`);
    console.log(v.variantRow(`${i}: ${variant.name}`, v.runVariant(dataset, variant)));
    if (args.includes('--list'))
      for (const w of v.variantCalledMining(dataset, variant)) heldOut.push(`${i}: called mining: ${w}`);
    if (shipped)
      heldOut.push(`${i}: ${v.variantHeldOut(dataset, variant, shipped) ?? 'other features: not scored'}`);
  }
  for (const line of heldOut) console.log(line);
  process.exit(0);
}
let text;
if (args.includes('--from-dataset')) {
  text = readFileSync(datasetPath, 'utf8');
} else {
  const dataDir = resolve(opt('--data') ?? process.env.COINRADAR_SHARED_DATA ?? '../shared/data');
  const d = await t.buildDataset(dataDir, {
    netflow: !args.includes('--no-netflow'),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  text = t.datasetText(d);
  writeFileSync(datasetPath, text);
}
const dataset = JSON.parse(text);
const cv = t.crossValidate(dataset);
const model = t.trainModel(dataset, t.sha256Text(text), cv);
writeFileSync(modelPath, t.modelText(model));
console.log(JSON.stringify(cv, null, 1));
console.log(
  `wrote ${modelPath} (${dataset.samples.length} windows kept, dataset sha256 ${t.sha256Text(text)})`,
);
