// Writes the OpenAPI document the app serves at /openapi.json to openapi/openapi.json,
// which is committed; test/openapi.test.ts fails when the two differ.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildApp } from '../src/app.js';

export const OPENAPI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../openapi/openapi.json');

/** The document as committed: 2-space JSON with a trailing newline. */
export async function generateOpenApi(): Promise<string> {
  const app = await buildApp({ autoStart: false, docsUi: false });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await generateOpenApi();
  await mkdir(dirname(OPENAPI_PATH), { recursive: true });
  await writeFile(OPENAPI_PATH, text);
  console.log(`wrote ${OPENAPI_PATH}`);
}
