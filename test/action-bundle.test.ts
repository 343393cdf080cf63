/**
 * The Action runs the committed actions/dist/index.js, never the sources: rebuilding it must give
 * exactly the committed file, or a merged change would not reach Action users.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLE, bundleText } from '../actions/build.ts';

describe('the Action bundle', () => {
  it('is what actions/build.ts builds from the current sources (run `npm run build:action` and commit)', async () => {
    const committed = readFileSync(BUNDLE, 'utf8');
    const fresh = await bundleText();
    expect(fresh.length, 'bundle size').toBe(committed.length);
    expect(fresh === committed, 'actions/dist/index.js is stale: run `npm run build:action` and commit it').toBe(true);
  });
});
