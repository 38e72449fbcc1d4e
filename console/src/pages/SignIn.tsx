import { ErrorNote } from '../error-note';
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';

/** Sign in with an API key (`coinradar apikey create NAME`); the server answers with a session cookie. */
export function SignIn({ onSignedIn }: { onSignedIn: (name: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await call<{ name: string }>('POST', '/v1/session', { key });
      setKey('');
      onSignedIn(r.name);
    } catch (x) {
      setError(x instanceof ApiError ? x.message : String(x));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>coinradar console</h1>
      <form onSubmit={submit}>
        <label for="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
        <p class="note">
          Make a key with <code>coinradar apikey create NAME</code>. The key is sent once; the browser keeps
          only a session cookie that scripts cannot read.
        </p>
      </form>
    </main>
  );
}
