// Bundles the page's JavaScript into one file (dist/meridian.js), so whoever serves the page serves
// a static directory. `node build.mjs --check` fails when the committed bundle is stale (run by
// `npm test`), the same way the repository checks its generated FlatBuffers code.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BUNDLE = path.join(here, 'dist/meridian.js');

export async function bundle() {
  const result = await build({
    entryPoints: [path.join(here, 'src/web/main.js')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    legalComments: 'eof',
    write: false,
    outfile: BUNDLE,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await bundle();
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(BUNDLE, 'utf8');
    } catch {
      // missing: stale
    }
    if (committed !== text) {
      console.error('dist/meridian.js is stale: run `npm run build` in client/web and commit it');
      process.exit(1);
    }
  } else {
    mkdirSync(path.dirname(BUNDLE), { recursive: true });
    writeFileSync(BUNDLE, text);
    console.log(`wrote ${BUNDLE} (${text.length} bytes)`);
  }
}
