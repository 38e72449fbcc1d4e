/**
 * A trace as an interactive graph (Cytoscape, loaded as its own chunk when first drawn): addresses
 * as round nodes, transactions as squares, each edge labelled with its amount and block height;
 * CoinJoin-like transactions, coinbases, listed addresses and pools coloured and named. Clicking
 * a node (or its Expand button in the list beside the graph, for the keyboard) asks the server for
 * one more hop from it. The graph is drawn into a canvas; the same nodes and edges are in the
 * list, so nothing is only in the picture.
 */
import { useEffect, useRef } from 'preact/hooks';
import type { TraceEdge, TraceNode } from '../../src/chain/trace';

export type { TraceEdge, TraceNode };

/** Amounts in coins (the index stores satoshis / litoshis). */
export const coins = (sat: number) => (sat / 1e8).toFixed(8).replace(/\.?0+$/, '');
const short = (s: string) => (s.length > 18 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s);

export function nodeClass(n: TraceNode): string {
  if (n.tags.some((t) => t.startsWith('sanctioned'))) return 'sanctioned';
  if (n.tags.includes('coinjoin-like')) return 'coinjoin';
  if (n.tags.includes('coinbase')) return 'coinbase';
  if (n.tags.some((t) => t.startsWith('mining pool'))) return 'pool';
  return n.kind;
}

export function TraceGraph(props: {
  nodes: TraceNode[];
  edges: TraceEdge[];
  onExpand: (n: TraceNode) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const expand = useRef(props.onExpand);
  expand.current = props.onExpand;
  useEffect(() => {
    let cy: { destroy(): void } | null = null;
    let live = true;
    void import('cytoscape').then(({ default: cytoscape }) => {
      if (!live || !box.current) return;
      const byId = new Map(props.nodes.map((n) => [n.id, n]));
      const c = cytoscape({
        container: box.current,
        elements: [
          ...props.nodes.map((n) => ({
            data: {
              id: n.id,
              label: short(n.label) + (n.tags.length ? `\n${n.tags.join(', ')}` : ''),
            },
            classes: nodeClass(n),
          })),
          ...props.edges.map((e, i) => ({
            data: {
              id: `e${i}`,
              source: e.from,
              target: e.to,
              label: `${coins(e.value)} @${e.height}`,
            },
          })),
        ],
        layout: { name: 'breadthfirst', directed: true, spacingFactor: 1.1 },
        style: [
          {
            selector: 'node',
            style: {
              label: 'data(label)',
              'font-size': 9,
              'text-wrap': 'wrap',
              'text-valign': 'bottom',
              'background-color': '#1f4e79',
              width: 18,
              height: 18,
            },
          },
          { selector: 'node.transaction', style: { shape: 'rectangle', 'background-color': '#59636e' } },
          { selector: 'node.coinjoin', style: { shape: 'rectangle', 'background-color': '#8e44ad' } },
          { selector: 'node.coinbase', style: { shape: 'rectangle', 'background-color': '#27ae60' } },
          { selector: 'node.sanctioned', style: { 'background-color': '#c0392b', width: 24, height: 24 } },
          { selector: 'node.pool', style: { 'background-color': '#27ae60' } },
          {
            selector: 'edge',
            style: {
              label: 'data(label)',
              'font-size': 8,
              'curve-style': 'bezier',
              'target-arrow-shape': 'triangle',
              width: 1.5,
              'line-color': '#9aa5b1',
              'target-arrow-color': '#9aa5b1',
            },
          },
        ],
      });
      c.on('tap', 'node', (ev) => {
        const n = byId.get(ev.target.id());
        if (n) expand.current(n);
      });
      cy = c;
    });
    return () => {
      live = false;
      cy?.destroy();
    };
  }, [props.nodes, props.edges]);
  return (
    <div
      class="trace-graph"
      ref={box}
      role="img"
      aria-label="trace graph (the list beside it has the same)"
    />
  );
}
