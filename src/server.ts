// The process entry point: config, logger, listen, signals.
import { buildApp } from './app.js';
import { HELP, loadConfig } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`gamesrv: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const logger = process.stdout.isTTY
    ? { level: 'info', transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
    : { level: 'info' };
  const app = await buildApp({
    fastify: { logger },
    engineOptions: config.engineOptions,
    engineConfig: config.engineConfig,
    autoStart: config.autoStart,
  });

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ host: config.host, port: config.port });
  app.log.info({ state: app.engine.state }, 'engine ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`gamesrv: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
