/**
 * A sortable, filterable table: column headers are buttons (keyboard: Tab, Enter), the filter
 * matches any cell's text. Rows past `limit` are counted, not drawn.
 */
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';

export interface Column<T> {
  key: string;
  title: string;
  /** The value sorted and filtered on. */
  value: (row: T) => string | number;
  /** What the cell shows (default: the value). */
  cell?: (row: T) => ComponentChildren;
  numeric?: boolean;
}

export function DataTable<T>(props: {
  rows: T[];
  columns: Column<T>[];
  caption: string;
  filter?: string;
  onFilter?: (text: string) => void;
  limit?: number;
  initialSort?: { key: string; desc: boolean };
}) {
  const { rows, columns, caption, limit = 1000 } = props;
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
        out = [...out].sort((a, b) => {
          const x = col.value(a);
          const y = col.value(b);
          const o =
            typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
          return sort.desc ? -o : o;
        });
      }
    }
    return out;
  }, [rows, columns, filter, sort]);
  return (
    <div class="table-box">
      <label class="filter">
        Filter {caption.toLowerCase()}{' '}
        <input
          type="search"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
      </label>
      <table>
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
          {shown.slice(0, limit).map((r) => (
            <tr>
              {columns.map((c) => (
                <td class={c.numeric ? 'num' : ''}>{c.cell ? c.cell(r) : String(c.value(r))}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length > limit && <p class="note">{shown.length - limit} more rows: narrow the filter.</p>}
    </div>
  );
}
