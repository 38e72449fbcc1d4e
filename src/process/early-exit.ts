/**
 * Work to undo if the process is ended early: temporary files, child processes (nfcapd, softflowd).
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP would end the process without running `finally` blocks, and a
 * child started by `spawn` outlives its parent. While any cleanup is registered, a handler runs
 * them all and then lets the signal do what it would have done (end the process), unless the
 * program listens for that signal itself; they also run at exit.
 */
const live = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function runAll(): void {
  for (const f of [...live]) {
    live.delete(f);
    try {
      f();
    } catch {
      // One failed cleanup must not keep the others from running.
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  // Another listener means the program handles this signal itself (serve reloads its lists on
  // SIGHUP, collect and serve stop gracefully on SIGINT and SIGTERM): the work in progress goes on
  // or ends its own way, and what is left at exit is undone then.
  if (process.listenerCount(sig) > 1) return;
  runAll();
  untrap();
  process.kill(process.pid, sig);
}

function trap(): void {
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', runAll);
}

function untrap(): void {
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off('exit', runAll);
}

/**
 * Register `f` (synchronous) to run if the process is signalled or exits before the returned
 * function is called; calling that unregisters it (without running it).
 */
export function onEarlyExit(f: () => void): () => void {
  const g = () => f();
  if (live.size === 0) trap();
  live.add(g);
  return () => {
    if (live.delete(g) && live.size === 0) untrap();
  };
}
