// Loads the compiled addon. GAMESRV_ADDON overrides the path (tests, the gyp build check).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EngineError } from './errors.js';
import type { NativeBinding } from './types.js';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function candidates(): string[] {
  const fromEnv = process.env['GAMESRV_ADDON'];
  if (fromEnv) return [resolve(fromEnv)];
  return ['Release', 'RelWithDebInfo', 'Debug'].map((c) => join(root, 'build', c, 'gamesrv.node'));
}

let cached: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const tried = candidates();
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    throw new EngineError(
      'ADDON_NOT_FOUND',
      `gamesrv native addon not built (looked in ${tried.join(', ')}); run "npm run build:native"`,
    );
  }
  cached = require(found) as NativeBinding;
  return cached;
}

export const addonPath = (): string | undefined => candidates().find((p) => existsSync(p));
