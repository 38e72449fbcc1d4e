/**
 * Flows by country on a world outline: Natural Earth's 1:110m countries (the `world-atlas`
 * package, bundled by Vite into its own file and loaded when the map is first drawn — no CDN),
 * projected with d3-geo into SVG paths once; each country filled by its flows on a log scale, its
 * name and count in a tooltip (title) and in the table beside it. Countries the store has no flow
 * for are grey.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { geoEqualEarth, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import type { SummaryRow } from './api';
import { ALPHA2_OF_NUMERIC } from './iso-numeric';

const WIDTH = 800;
const HEIGHT = 400;

interface Shape {
  code: string;
  name: string;
  d: string;
}

let shapes: Promise<Shape[]> | null = null;

/** The outline as SVG paths, computed once per page load. */
function loadShapes(): Promise<Shape[]> {
  shapes ??= import('world-atlas/countries-110m.json').then((m) => {
    const topo = m.default as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
    const fc = feature(topo, topo.objects.countries);
    const path = geoPath(geoEqualEarth().fitSize([WIDTH, HEIGHT], fc));
    return fc.features.map((f) => ({
      code: ALPHA2_OF_NUMERIC[String(f.id)] ?? '',
      name: f.properties?.name ?? '',
      d: path(f) ?? '',
    }));
  });
  return shapes;
}

/** Light to dark blue by log(flows) over the largest country's. */
export function shade(flows: number, max: number): string {
  if (!(flows > 0) || !(max > 0)) return '#e4e7eb';
  const t = Math.log1p(flows) / Math.log1p(max);
  const l = Math.round(88 - t * 58);
  return `hsl(210 70% ${l}%)`;
}

export function WorldMap({ rows }: { rows: SummaryRow[] }) {
  const [world, setWorld] = useState<Shape[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    loadShapes().then(setWorld, (e: Error) => setError(e.message));
  }, []);
  const byCode = useMemo(() => new Map(rows.map((r) => [r.key, r.flows])), [rows]);
  const max = rows.reduce((m, r) => Math.max(m, r.flows), 0);
  if (error) return <p class="error">The map could not be drawn: {error}</p>;
  if (!world) return <p aria-live="polite">Drawing the map…</p>;
  return (
    <figure class="world-map">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="flows by country on a world map">
        {world.map((s) => {
          const flows = byCode.get(s.code) ?? 0;
          return (
            <path d={s.d} fill={shade(flows, max)} data-country={s.code} class={flows > 0 ? 'has-flows' : ''}>
              <title>
                {s.name}
                {s.code ? ` (${s.code})` : ''}: {flows.toLocaleString('en')} flows
              </title>
            </path>
          );
        })}
      </svg>
      <figcaption class="note">
        Flows by country of either end (darker: more, log scale; grey: none). Natural Earth 1:110m outline.
      </figcaption>
    </figure>
  );
}
