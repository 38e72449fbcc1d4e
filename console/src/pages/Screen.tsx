/** Screening: pasted addresses → POST /v1/screen, the result `coinradar screen` gives. */
import { ErrorNote } from '../error-note';
import { useEffect, useState } from 'preact/hooks';
import { call, type ScreenAnswer } from '../api';
import type { Route } from '../router';

export function Screen({ route }: { route: Route }) {
  const given = route.params.get('addresses') ?? '';
  const [text, setText] = useState(given);
  const [answer, setAnswer] = useState<ScreenAnswer | null>(null);
  const [error, setError] = useState('');
  const screen = async (t: string) => {
    const addresses = t.split(/[\s,;]+/).filter(Boolean);
    if (addresses.length === 0) return;
    setError('');
    try {
      setAnswer(await call<ScreenAnswer>('POST', '/v1/screen', { addresses }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    setText(given);
    if (given) void screen(given);
  }, [given]);
  return (
    <main>
      <h1>Screening</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void screen(text);
        }}
      >
        <label for="addresses">Addresses (one per line, or separated by spaces or commas)</label>
        <textarea
          id="addresses"
          name="addresses"
          rows={6}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <button type="submit">Screen</button>
      </form>
      <ErrorNote error={error} />
      {answer && (
        <section aria-label="screening result">
          <p>
            {answer.results.length} screened, {answer.matched} matched, against{' '}
            {answer.lists.map((l) => `${l.list} v${l.versionId} (${l.published ?? 'unknown'})`).join(', ') ||
              'no list'}
          </p>
          <table>
            <caption>Screening result</caption>
            <thead>
              <tr>
                <th scope="col">address</th>
                <th scope="col">result</th>
                <th scope="col">matches</th>
              </tr>
            </thead>
            <tbody>
              {answer.results.map((r) => (
                <tr class={r.matched ? 'listed' : ''}>
                  <td>
                    <a href={`#/money/${encodeURIComponent(r.address)}`}>
                      <code>{r.address}</code>
                    </a>
                  </td>
                  <td class="result">{r.matched ? 'LISTED' : 'not listed'}</td>
                  <td>
                    {r.matches.map((m) => (
                      <div>
                        {m.kind}: {m.entity?.name ?? 'unnamed'} ({m.list} v{m.versionId}
                        {m.published ? `, ${m.published}` : ''})
                        {m.kind !== 'exact' ? ` via ${m.listedAddress}` : ''}
                        {m.via ? `; ${m.via}` : ''}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </main>
  );
}
