// The npm registry mirror this project is built against serves only the linux-x64 builds of
// @duckdb/node-bindings, so `npm install` leaves the other platforms' optional packages out of
// package-lock.json and `npm ci` then refuses the lock as out of sync. This adds lock entries for
// them, marked optional with their os/cpu, which npm ci skips on a platform that doesn't match.
// Run after every `npm install`: node scripts/lock-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pkgs = lock.packages;
const bindings = pkgs['node_modules/@duckdb/node-bindings'];
const platforms = {
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm64': ['linux', 'arm64', 'glibc'],
  'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'linux-x64': ['linux', 'x64', 'glibc'],
  'linux-x64-musl': ['linux', 'x64', 'musl'],
  'win32-x64': ['win32', 'x64'],
  'win32-arm64': ['win32', 'arm64'],
};
let added = 0;
for (const [name, [os, cpu, libc]] of Object.entries(platforms)) {
  const key = `node_modules/@duckdb/node-bindings-${name}`;
  if (pkgs[key]) continue;
  const e = { version: bindings.version, cpu: [cpu], license: 'MIT', optional: true, os: [os] };
  if (libc) e.libc = [libc];
  pkgs[key] = e;
  added++;
}
// chDB (a dev dependency: the tests' in-process ClickHouse) ships its library per platform the same way.
const chdb = pkgs['node_modules/chdb'];
if (chdb?.optionalDependencies) {
  for (const [name, version] of Object.entries(chdb.optionalDependencies)) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    const [, os, cpu, libc] = /lib-(\w+)-(\w+)(?:-(\w+))?$/.exec(name) ?? [];
    if (!os) continue;
    const e = { version, cpu: [cpu], dev: true, license: 'Apache-2.0', optional: true, os: [os] };
    if (libc) e.libc = [libc === 'gnu' ? 'glibc' : libc];
    pkgs[key] = e;
    added++;
  }
}
const [root, ...rest] = Object.entries(pkgs);
lock.packages = Object.fromEntries([root, ...rest.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-platforms: ${added} entries added`);
