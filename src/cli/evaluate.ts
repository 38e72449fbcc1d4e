import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { EVALUATION_FORMS, evaluate, evaluationText, parseMinerList } from '../detect/classifier/evaluate.js';
import { parseModel } from '../detect/classifier/model.js';
import { Progress } from './progress.js';

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      "score the flow-behaviour model on your own captures: each read as pcap flows, cut every 60 s, Zeek rows, NetFlow v5, IPFIX and sampled NetFlow, windows labelled by the payload rules; prints the issue's figures per form and every window it got wrong",
    )
    .argument(
      '<path...>',
      'captures (pcap, pcapng) or folders of them; other flow files with --label ordinary',
    )
    .option('--forms <list>', `comma-separated forms (${EVALUATION_FORMS.map((f) => f.name).join(', ')})`)
    .option(
      '--label <how>',
      'payload: Stratum/getwork at payload confidence is a miner; ordinary: every window is ordinary (flow files without payload, such as a Zeek conn.log)',
      'payload',
    )
    .option(
      '--miners <file>',
      'miners you know of, one per line: "client -> server:port", "server:port" or "server"; their groups are miners in any file (NetFlow and Zeek logs too)',
    )
    .option(
      '--model <file>',
      'a behaviour model file to score instead of the shipped one (e.g. an earlier version from git)',
    )
    .option('--format <fmt>', 'text or json', 'text')
    .option('--out <file>', 'write the result here instead of stdout')
    .action(
      async (
        paths: string[],
        o: {
          forms?: string;
          label: string;
          miners?: string;
          model?: string;
          format: string;
          out?: string;
        },
      ) => {
        if (o.label !== 'payload' && o.label !== 'ordinary')
          throw new Error(`--label must be payload or ordinary, not ${o.label}`);
        if (o.format !== 'text' && o.format !== 'json')
          throw new Error(`--format must be text or json, not ${o.format}`);
        let progress: Progress | undefined;
        const ev = await evaluate(paths, {
          forms: o.forms?.split(',').map((s) => s.trim()),
          label: o.label,
          miners: o.miners ? parseMinerList(readFileSync(o.miners, 'utf8'), o.miners) : undefined,
          model: o.model ? parseModel(readFileSync(o.model, 'utf8'), o.model) : undefined,
          onFile: (done, total) =>
            (progress ??= new Progress('evaluate', total)).update(done, ` ${done}/${total} files`),
        });
        progress?.done();
        const text = o.format === 'json' ? `${JSON.stringify(ev, null, 1)}\n` : evaluationText(ev);
        if (o.out) writeFileSync(o.out, text);
        else process.stdout.write(text);
      },
    );
}
