/** Starts the bot: `npm start`. Stops cleanly on SIGINT/SIGTERM. */
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';

try {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const app = await createApp(config, { log });
  const port = await app.listen(config.port);
  log.info('server.listening', {
    port,
    store: app.store.kind,
    line: !!config.line.channelSecret,
    webchat: config.webchatEnabled,
  });
  if (config.webchatEnabled) process.stdout.write(`Web chat: http://localhost:${port}/\n`);
  const stop = async (signal: string) => {
    log.info('server.stopping', { signal });
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
} catch (err) {
  // Configuration and catalog errors name the field at fault, one line each; they contain no personal data.
  const lines = (err instanceof Error ? err.message : String(err)).split('\n');
  process.stderr.write(lines.map((line) => `Cannot start: ${line}\n`).join(''));
  process.exit(1);
}
