/** "64G", "512M", "10k", "1000": bytes (K/M/G/T are powers of 1024); NaN when not a size. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) return NaN;
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase()] ?? NaN;
  return Math.floor(Number(m[1]) * mult);
}

/** `--store-buffer` (collect, serve --collect): a size (256M, 1G; 0 holds nothing), at most 1 TiB. */
export function parseStoreBuffer(text: string): number {
  const n = parseSize(text);
  if (!(n >= 0 && n <= 2 ** 40))
    throw new Error(`--store-buffer: '${text}' is not a size (e.g. 256M, 1G; 0 holds nothing)`);
  return n;
}

/** `--spool-size` (collect, serve --collect): a size of at least 1 MiB (4G, 500M), at most 16 TiB. */
export function parseSpoolSize(text: string): number {
  const n = parseSize(text);
  if (!(n >= 2 ** 20 && n <= 2 ** 44))
    throw new Error(`--spool-size: '${text}' is not a size of at least 1M (e.g. 4G, 500M)`);
  return n;
}
