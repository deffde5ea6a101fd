// Builds the app for a test: its own server name (the pipe socket and shared-memory
// segment are per name), a small engine, no request logging, closed after the test.
import type { TestContext } from 'node:test';

import type { FastifyInstance } from 'fastify';

import { buildApp, type AppOptions } from '../../src/app.js';

let serial = 0;

export function uniqueServerName(tag = 'api'): string {
  serial += 1;
  return `t-${tag}-${process.pid}-${serial}`;
}

export const SMALL_ENGINE = {
  tickRateHz: 120,
  poolMinThreads: 1,
  poolMaxThreads: 4,
  dbLatencyUs: 500,
} as const;

export async function build(t: TestContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp({
    autoStart: true,
    docsUi: false,
    ...opts,
    engineConfig: { ...SMALL_ENGINE, serverName: uniqueServerName(), ...opts.engineConfig },
  });
  t.after(() => app.close());
  return app;
}
