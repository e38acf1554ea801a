/**
 * The `rowcast` command. Configuration is read here, once; every failure to
 * start is one clear line on stderr and a non-zero exit, never a stack trace.
 */
import { Command } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { RowcastError } from './errors.js';
import { startRowcast } from './server.js';

const EXIT_CONFIG = 2;
const EXIT_START = 1;

function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`rowcast: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const message = error instanceof RowcastError ? error.message : error instanceof Error ? error.message : String(error);
  process.stderr.write(`rowcast: ${message}\n`);
  process.exit(EXIT_START);
}

async function serve(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel, base: { service: 'rowcast' } });
  const server = await startRowcast(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('rowcast')
    .description('PostgreSQL change feed: committed rows pushed over WebSocket and Server-Sent Events')
    .showHelpAfterError();
  program
    .command('serve', { isDefault: true })
    .description('run the server (embedded PostgreSQL unless DATABASE_URL is set)')
    .action(async () => serve(loadConfig(process.env)));
  await program.parseAsync(argv);
}

main(process.argv).catch(fail);
