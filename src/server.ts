// The process entry point: config, logger, listen, signals.
//
// Shutdown (SIGTERM/SIGINT): stop accepting connections, close telemetry WebSockets with
// a reason, stop the engine within --stop-deadline (every accepted event is processed,
// unfinished tasks are cancelled), flush the log, exit 0. A second signal exits 1 at once.
import type { FastifyInstance } from 'fastify';

import { buildApp } from './app.js';
import { cancelLockBenchmarks } from './engine/index.js';
import { HELP, loadConfig, type ServerConfig, type TokenSource } from './config.js';
import { loadOrCreateToken } from './local-token.js';
import { resolveTicketSecret } from './ticket-secret.js';

/** Sane socket limits for a control plane: slow or idle clients cannot hold sockets forever. */
const SERVER_TIMEOUTS = {
  /** Whole request (headers and body) must arrive within this. */
  requestTimeout: 30_000,
  /** Idle keep-alive sockets are closed after this. */
  keepAliveTimeout: 5_000,
  /** A socket with no activity at all is closed after this. */
  connectionTimeout: 120_000,
} as const;

function logger(config: ServerConfig) {
  return process.stdout.isTTY
    ? {
        level: config.logLevel,
        transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
      }
    : { level: config.logLevel };
}

/**
 * SIGTERM with players connected: drain first (refuse new players, NOTICE every session,
 * wait for them to leave or the deadline, kick the rest), which stops the engine; the
 * app's close then has nothing left to stop.
 */
async function drainGamePort(app: FastifyInstance, deadlineMs: number, stopDeadlineMs: number): Promise<void> {
  const handoff = app.handoffUrl ? { handoffUrl: app.handoffUrl } : {};
  const state = app.engine.state;
  if (app.engine.gamePort === null || (state !== 'running' && state !== 'paused')) return;
  try {
    const r = await app.engine.drain({ deadlineMs, stopDeadlineMs, notice: 'this server is shutting down: please reconnect', ...handoff });
    const { accepted, processed } = app.engine.snapshot().events;
    const drain = { sessionsAtStart: r.sessionsAtStart, kicked: r.kicked, waitedMs: r.waitedMs };
    app.log.info({ report: r.stop, drain, events: { accepted, processed } }, 'engine stopped');
  } catch (err) {
    app.log.warn({ err }, 'drain failed; stopping without it');
  } finally {
    app.engineState.check();
  }
}

/**
 * An Agones game server tells Agones it is done only after the drain and the engine's
 * stop (its final storage flush): Shutdown() first would let Agones delete the pod with
 * players and unsaved rows on it.
 */
async function agonesShutdown(app: FastifyInstance, stopDeadlineMs: number): Promise<void> {
  if (app.agones === null) return;
  const state = app.engineState.check();
  if (state === 'running' || state === 'paused') {
    const report = await app.engine.stop({ deadlineMs: stopDeadlineMs });
    const { accepted, processed } = app.engine.snapshot().events;
    app.log.info({ report, events: { accepted, processed } }, 'engine stopped');
    app.engineState.check();
  }
  try {
    await app.agones.shutdown();
  } catch (err) {
    app.log.error({ err }, 'agones: Shutdown() not sent');
  }
}

function flushLog(app: FastifyInstance): Promise<void> {
  return new Promise((resolve) => {
    const log = app.log as FastifyInstance['log'] & { flush?: (cb?: (err?: Error) => void) => void };
    if (typeof log.flush !== 'function') return resolve();
    log.flush(() => resolve());
  });
}

/** The token the server checks, and a line for the log about where it lives. */
function resolveToken(source: TokenSource): { token: string | undefined; where: string } {
  switch (source.kind) {
    case 'env':
      return { token: source.token, where: 'GAMESRV_TOKEN' };
    case 'file':
      return { token: source.token, where: source.path };
    case 'generated': {
      const { token, created } = loadOrCreateToken(source.path);
      return { token, where: `${source.path}${created ? ' (created)' : ''}` };
    }
    case 'none':
      return { token: undefined, where: 'none (--no-auth)' };
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`gamesrv: ${(err as Error).message}\n\nRun with --help for the options.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return;
  }
  let token: string | undefined;
  let tokenWhere: string;
  let ticketSecret: Buffer;
  let ticketSecretWhere: string;
  try {
    ({ token, where: tokenWhere } = resolveToken(config.tokenSource));
  } catch (err) {
    process.stderr.write(`gamesrv: token: ${(err as Error).message}\n`);
    process.exit(2);
  }
  try {
    ({ secret: ticketSecret, where: ticketSecretWhere } = resolveTicketSecret(config.ticketSecretSource));
  } catch (err) {
    process.stderr.write(`gamesrv: ticket secret: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const app = await buildApp({
    fastify: { logger: logger(config), ...SERVER_TIMEOUTS, requestIdHeader: 'x-request-id', forceCloseConnections: 'idle' },
    engineOptions: config.engineOptions,
    engineConfig: config.engineConfig,
    autoStart: config.autoStart,
    stopDeadlineMs: config.stopDeadlineMs,
    handoffUrl: config.handoffUrl,
    token,
    ticketSecret,
    listenHost: config.host,
    allowedHosts: config.allowedHosts,
    rateLimit: { max: config.rateLimitPerMin, windowMs: 60_000 },
    ...(config.agones !== null ? { agones: config.agones } : {}),
  });

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      // A running lock benchmark would hold the exit (libuv joins its thread pool).
      cancelLockBenchmarks();
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal, stopDeadlineMs: config.stopDeadlineMs, drainDeadlineMs: config.drainDeadlineMs }, 'shutting down');
    drainGamePort(app, config.drainDeadlineMs, config.stopDeadlineMs)
      .then(() => agonesShutdown(app, config.stopDeadlineMs))
      .then(() => app.close())
      .then(
      async () => {
        app.log.info('shut down cleanly');
        await flushLog(app);
        process.exit(0);
      },
      async (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        await flushLog(app);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = address !== null && typeof address === 'object' ? address.port : config.port;
  const urlHost = ['0.0.0.0', '::'].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  // What the start's replay did (durability "journal"): events replayed, time, a cut tail.
  const { mode, lastSeq, replayedEvents, replayUs, cutBytes } = app.engine.snapshot().journal;
  const journal = mode === 'journal' ? { mode, dir: `${config.engineConfig.dataDir}/journal`, lastSeq, replayedEvents, replayMs: replayUs / 1000, cutBytes } : { mode };
  app.log.info(
    { state: app.engine.state, gamePort: app.engine.gamePort, journal, token: tokenWhere, ticketSecret: ticketSecretWhere, rateLimitPerMin: config.rateLimitPerMin },
    'engine ready',
  );
  if (token === undefined) {
    app.log.warn('--no-auth: every local user can pause, stop and drive this server');
  }
  watchStorage(app);
  // The token rides in the fragment, which browsers never send: it stays out of request
  // logs. The line goes to stderr, not into the (possibly shipped) JSON log on stdout.
  const dashboard = `http://${urlHost}:${port}/${token !== undefined ? `#token=${encodeURIComponent(token)}` : ''}`;
  process.stderr.write(`gamesrv: dashboard ${dashboard}\n`);
}

/**
 * Logs the database in use, and each failed player flush (the engine counts them in
 * storage.flushFailures and keeps their rows dirty for the next flush) and the recovery.
 */
function watchStorage(app: FastifyInstance): void {
  const first = app.engine.snapshot().storage;
  app.log.info({ database: first.database, location: first.location }, 'storage');
  let failures = first.flushFailures;
  let refused = first.flushRefusedNotOwner;
  let failing = false;
  const timer = setInterval(() => {
    let s;
    try {
      s = app.engine.snapshot().storage;
    } catch {
      clearInterval(timer);  // the engine was closed (shutdown)
      return;
    }
    if (s.flushFailures > failures) {
      app.log.warn({ flushFailures: s.flushFailures, dirty: s.dirty, error: s.lastError }, 'storage: flushing players failed; they stay dirty and are retried');
      failing = true;
    } else if (failing && s.lastError === '') {
      app.log.info({ dirty: s.dirty }, 'storage: flushing players works again');
      failing = false;
    }
    failures = s.flushFailures;
    if (s.flushRefusedNotOwner > refused) {
      app.log.warn({ flushRefusedNotOwner: s.flushRefusedNotOwner, reason: s.lastRefusal }, 'storage: rows another server owns were not written (dropped)');
    }
    refused = s.flushRefusedNotOwner;
  }, 1000);
  timer.unref();  // never what keeps the process alive
}

main().catch((err: unknown) => {
  process.stderr.write(`gamesrv: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
