import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bundle, BUNDLE } from '../../build.mjs';

test('the committed dist/meridian.js is what the sources bundle to (run `npm run build`)', async () => {
  const fresh = await bundle();
  assert.ok(fresh.includes('window.meridian'), 'the page hook is in the bundle');
  assert.ok(readFileSync(BUNDLE, 'utf8') === fresh, 'dist/meridian.js is stale: run `npm run build` in client/web');
});
