/**
 * A sortable, filterable, virtualised table: column headers are buttons (keyboard: Tab, Enter),
 * the filter matches any cell's text, and only the rows in view (plus a few either side) are in
 * the DOM — 10,000 hosts scroll as 30. Rows have one fixed height (cells do not wrap), so the
 * window is arithmetic on scrollTop: no measuring, no dependency. CSV saves the rows as shown
 * (filtered and sorted), or the API's CSV of the whole table where the page gives `csvHref`.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { toCsv } from '../../src/server/csv';

export interface Column<T> {
  key: string;
  title: string;
  /** The value sorted and filtered on (and written to CSV). */
  value: (row: T) => string | number;
  /** What the cell shows (default: the value). */
  cell?: (row: T) => ComponentChildren;
  numeric?: boolean;
}

/** A row's height in CSS pixels: style.css gives `.vt td` this height and no wrapping. */
export const ROW_PX = 32;
/** Rows drawn above and below the visible ones, so a fast scroll shows no blank. */
const OVERSCAN = 10;
/** The scroll box's height in rows when the table has more. */
const VIEW_ROWS = 20;

/** The rows [start, end) to draw for a scroll position. */
export function windowOf(scrollTop: number, viewPx: number, total: number): [number, number] {
  const start = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
  const end = Math.min(total, Math.ceil((scrollTop + viewPx) / ROW_PX) + OVERSCAN);
  return [start, Math.max(start, end)];
}

/** Save text as a file: a link to a Blob, clicked (no server round trip, no inline script). */
export function saveText(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function DataTable<T>(props: {
  rows: T[];
  columns: Column<T>[];
  caption: string;
  filter?: string;
  onFilter?: (text: string) => void;
  initialSort?: { key: string; desc: boolean };
  /** The API's CSV of this table (all rows, server-side); default: the rows shown, built here. */
  csvHref?: string;
  /** The saved file's name without .csv (default: the caption). */
  csvName?: string;
}) {
  const { rows, columns, caption } = props;
  const [ownFilter, setOwnFilter] = useState('');
  const filter = props.filter ?? ownFilter;
  const setFilter = props.onFilter ?? setOwnFilter;
  const [sort, setSort] = useState(props.initialSort ?? null);
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    let out = f
      ? rows.filter((r) => columns.some((c) => String(c.value(r)).toLowerCase().includes(f)))
      : rows;
    if (sort) {
      const col = columns.find((c) => c.key === sort.key);
      if (col) {
        // Sort keys computed once a row, not once a comparison (10,000 rows: ~130,000 comparisons).
        const keyed = out.map((r) => ({ r, k: col.value(r) }));
        keyed.sort((a, b) => {
          const o =
            typeof a.k === 'number' && typeof b.k === 'number'
              ? a.k - b.k
              : String(a.k).localeCompare(String(b.k));
          return sort.desc ? -o : o;
        });
        out = keyed.map((x) => x.r);
      }
    }
    return out;
  }, [rows, columns, filter, sort]);

  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const viewPx = VIEW_ROWS * ROW_PX;
  // A new filter or order starts at the top.
  useEffect(() => {
    if (box.current) box.current.scrollTop = 0;
    setScrollTop(0);
  }, [filter, sort]);
  const [start, end] = windowOf(scrollTop, viewPx, shown.length);
  const name = props.csvName ?? caption.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const saveShown = () =>
    saveText(
      `${name}.csv`,
      toCsv(
        columns.map((c) => ({ title: c.title, value: c.value })),
        shown,
      ),
    );

  return (
    <div class="table-box">
      <div class="table-tools">
        <label class="filter">
          Filter {caption.toLowerCase()}{' '}
          <input
            type="search"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
        </label>
        {props.csvHref ? (
          <a class="csv" href={props.csvHref} download={`${name}.csv`} aria-label={`${caption} as CSV`}>
            Save as CSV
          </a>
        ) : (
          <button type="button" class="csv" onClick={saveShown} aria-label={`${caption} as CSV`}>
            Save as CSV
          </button>
        )}
      </div>
      <div
        class="vt-box"
        ref={box}
        // Scrollable by keyboard too (arrows, Page Down) once focused.
        tabIndex={shown.length > VIEW_ROWS ? 0 : undefined}
        aria-label={shown.length > VIEW_ROWS ? `${caption}, scrollable` : undefined}
        style={{ maxHeight: `${viewPx + ROW_PX + 8}px` }}
        onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      >
        <table class="vt" aria-rowcount={shown.length + 1}>
          <caption>
            {caption}: {shown.length} of {rows.length}
          </caption>
          <thead>
            <tr>
              {columns.map((c) => (
                <th
                  scope="col"
                  class={c.numeric ? 'num' : ''}
                  aria-sort={sort?.key === c.key ? (sort.desc ? 'descending' : 'ascending') : undefined}
                >
                  <button
                    type="button"
                    onClick={() =>
                      setSort({ key: c.key, desc: sort?.key === c.key ? !sort.desc : !!c.numeric })
                    }
                  >
                    {c.title}
                    {sort?.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {start > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${start * ROW_PX}px` }} />}
            {shown.slice(start, end).map((r, i) => (
              <tr aria-rowindex={start + i + 2}>
                {columns.map((c) => (
                  <td class={c.numeric ? 'num' : ''}>{c.cell ? c.cell(r) : String(c.value(r))}</td>
                ))}
              </tr>
            ))}
            {end < shown.length && (
              <tr
                class="spacer"
                aria-hidden="true"
                style={{ height: `${(shown.length - end) * ROW_PX}px` }}
              />
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}
