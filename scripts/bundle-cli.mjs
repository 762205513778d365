// Bundles the compiled CLI (dist/clients/cli) into one module, so a client verb loads one
// file instead of hundreds: `grove` starts in about half the time. The services stay out of
// the bundle: the serve verbs import them on demand (ORM, SQLite, node-pty load only there).
import { renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const cli = fileURLToPath(new URL('../dist/clients/cli/', import.meta.url));
renameSync(`${cli}main.js`, `${cli}main.unbundled.js`);
await build({
  input: `${cli}main.unbundled.js`,
  platform: 'node',
  external: [/\/services\/(agent|coordinator)\/main\.js$/],
  output: { file: `${cli}main.js`, format: 'esm', codeSplitting: false, sourcemap: false },
  logLevel: 'warn',
});
// The bundle holds all of it; the unbundled entry would only mislead.
rmSync(`${cli}main.unbundled.js`);
rmSync(`${cli}main.js.map`, { force: true });
