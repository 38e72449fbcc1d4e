// Runs coinradar as a child process without blocking the event loop, so that a fake node served
// by the same test process can answer it; gives the exit code as the user sees it.
import { execFile } from 'node:child_process';

export function cliProcess(
  args: string[],
  timeoutMs = 120000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { encoding: 'utf8', timeout: timeoutMs },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
