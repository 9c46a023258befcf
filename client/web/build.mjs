// Bundles the page's JavaScript into one file, dist/meridian.js (not committed: it embeds the
// dependencies), so whoever serves the page serves a static directory. `infra/setup.sh` and
// `npm test` (pretest) run it.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: [path.join(here, 'src/web/main.js')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  legalComments: 'eof',
  outfile: path.join(here, 'dist/meridian.js'),
  logLevel: 'warning',
});
