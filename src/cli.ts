/**
 * The `rowcast` command. Configuration is read here, once per command; every
 * failure is one clear line on stderr and an exit code: 0 ok, 1 runtime
 * failure, 2 usage or configuration error. Never a stack trace.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatConfig, redactUrl } from './cli/config-report.js';
import { withDatabase } from './cli/database.js';
import { describeRule, entryJson, exposeTable, formatList, listExposed, unexposeTable } from './cli/exposure.js';
import { readTypeSources, renderTypes } from './cli/type-generator.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { createLogger } from './observability/logger.js';
import type { ReadRule } from './hub/authorization.js';

const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;
const PARENT_CHECK_MS = 1000;

function fail(error: unknown): never {
  if (error instanceof CommanderError) {
    // Commander already printed the message (see configureOutput below).
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`rowcast: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`rowcast: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(EXIT_RUNTIME);
}

async function serve(config: Config): Promise<void> {
  // Loaded here so that the short-lived commands do not load the whole server.
  const { startRowcast } = await import('./server.js');
  const log = createLogger(config.logLevel);
  log.info({ config: { ...config, jwt: Object.keys(config.jwt), databaseUrl: config.databaseUrl ? redactUrl(config.databaseUrl) : 'embedded', listenUrl: config.listenUrl ? redactUrl(config.listenUrl) : null } }, 'starting');
  // Every way start-up fails (port in use, database unreachable, LISTEN broken, data
  // directory in use) is the operator's environment: a usage error, not a crash.
  const server = await startRowcast(config, log).catch((error: unknown) => {
    process.stderr.write(`rowcast: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(EXIT_USAGE);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Under `npm start` a shell sits between npm and this process, and it does not pass on the
  // SIGTERM npm forwards: this process is re-parented instead, and stops as if signalled.
  // Only as an npm script: started otherwise (nohup, a detaching script) it outlives its parent.
  if (process.env.npm_lifecycle_event) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop('npm exited');
    }, PARENT_CHECK_MS).unref();
  }
}

function checkConfig(): void {
  try {
    process.stdout.write(formatConfig(loadConfig(process.env)));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One line per problem, so each names its variable.
    for (const problem of error.problems) process.stderr.write(`rowcast: invalid configuration: ${problem}\n`);
    process.exit(EXIT_USAGE);
  }
}

function parseRoles(text: string): string[] {
  const roles = text.split(',').map((r) => r.trim());
  if (roles.some((r) => r === '')) throw new InvalidArgumentError('expected role names separated by commas, like admin,staff');
  return roles;
}

function parseColumn(text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('expected a column name');
  return text;
}

interface ExposeOptions {
  roles?: string[];
  ownerColumn?: string;
  public?: boolean;
}

function ruleFrom(options: ExposeOptions): ReadRule {
  if (options.roles) return { kind: 'roles', roles: options.roles };
  if (options.ownerColumn) return { kind: 'owner', column: options.ownerColumn };
  return { kind: 'authenticated' };
}

/** Runs `work` on the command's database, with the configuration of the environment. */
function onDatabase<T>(requireInstalled: boolean, work: (database: Database) => Promise<T>): Promise<T> {
  return withDatabase(loadConfig(process.env), { requireInstalled }, work);
}

async function expose(table: string, options: ExposeOptions): Promise<void> {
  const result = await onDatabase(true, (database) => exposeTable(database.pool, table, ruleFrom(options)));
  const now = describeRule(result.rule);
  const was = result.previous ? describeRule(result.previous) : null;
  process.stdout.write(`exposed ${result.key}, read rule: ${now}${was !== null && was !== now ? ` (was: ${was})` : ''}\n`);
}

async function unexpose(table: string): Promise<void> {
  const result = await onDatabase(true, (database) => unexposeTable(database.pool, table));
  process.stdout.write(result.previous ? `unexposed ${result.key}\n` : `${result.key} was not exposed; nothing changed\n`);
}

async function list(options: { json?: boolean }): Promise<void> {
  const entries = await onDatabase(true, (database) => listExposed(database.pool));
  process.stdout.write(options.json ? `${JSON.stringify({ tables: entries.map(entryJson) }, null, 2)}\n` : formatList(entries));
}

async function migrateCommand(): Promise<void> {
  const { applied } = await onDatabase(false, (database) => migrate(database.db));
  process.stdout.write(applied.length > 0 ? `applied migrations: ${applied.join(', ')}\n` : 'no pending migrations\n');
  process.stdout.write('capture functions and triggers installed\n');
}

async function types(): Promise<void> {
  const sources = await onDatabase(true, (database) => readTypeSources(database.pool));
  process.stdout.write(renderTypes(sources));
}

const DATABASE_HELP = `
Database: DATABASE_URL, else the embedded PostgreSQL of \`npm start\` (ROWCAST_DATA_DIR,
default .rowcast): joined when a server runs it, else started for the command and stopped after.`;

function buildProgram(): Command {
  const program = new Command('rowcast')
    .description('PostgreSQL change feed: committed rows pushed over WebSocket and Server-Sent Events')
    // Usage errors are thrown to fail() (exit 2) instead of exiting with commander's code 1.
    .exitOverride();
  program
    .command('serve', { isDefault: true })
    .description('run the server (the default command; embedded PostgreSQL unless DATABASE_URL is set)')
    // As the default command, serve receives any unknown command name.
    .allowExcessArguments()
    .option('--port <port>', 'where to listen (overrides PORT)')
    .option('--host <host>', 'where to listen (overrides HOST)')
    .option('--database-url <url>', 'PostgreSQL to use instead of the embedded one (overrides DATABASE_URL)')
    .action(async (options: { port?: string; host?: string; databaseUrl?: string }, command: Command) => {
      if (command.args.length > 0) program.error(`unknown command '${command.args[0]}'`, { exitCode: EXIT_USAGE });
      // Flags are validated by the same schema as the environment they override.
      const flags = {
        ...(options.port !== undefined ? { PORT: options.port } : {}),
        ...(options.host !== undefined ? { HOST: options.host } : {}),
        ...(options.databaseUrl !== undefined ? { DATABASE_URL: options.databaseUrl } : {}),
      };
      await serve(loadConfig({ ...process.env, ...flags }));
    });
  program
    .command('expose')
    .description('serve a table to clients, with a read rule; a running server picks it up within 2 s')
    .argument('<table>', 'the table, e.g. public.invoices; it needs a primary key')
    .addOption(new Option('--roles <roles>', 'only these roles may read, comma-separated (role admin always may)').argParser(parseRoles).conflicts(['ownerColumn', 'public']))
    .addOption(new Option('--owner-column <column>', "clients read only rows whose <column> equals their token's sub").argParser(parseColumn).conflicts(['roles', 'public']))
    .addOption(new Option('--public', 'any authenticated client may read (the default rule)').conflicts(['roles', 'ownerColumn']))
    .addHelpText('after', `\nThe same as: select rowcast.expose('public.invoices', roles => array['admin','staff']);\n${DATABASE_HELP}`)
    .action(expose);
  program
    .command('unexpose')
    .description('stop serving a table; its subscribers get an error')
    .argument('<table>', 'the table, e.g. public.invoices')
    .addHelpText('after', `\nThe same as: select rowcast.unexpose('public.invoices');\n${DATABASE_HELP}`)
    .action(unexpose);
  program
    .command('list')
    .description('the exposed tables and their read rules')
    .option('--json', 'print JSON instead of text')
    .addHelpText('after', DATABASE_HELP)
    .action(list);
  program
    .command('migrate')
    .description('apply the migrations of sql/ and the capture SQL of triggers/, then exit')
    .addHelpText('after', DATABASE_HELP)
    .action(migrateCommand);
  program
    .command('types')
    .description('print TypeScript row types of the exposed tables, e.g. rowcast types > src/rowcast-types.ts')
    .addHelpText('after', DATABASE_HELP)
    .action(types);
  program
    .command('check-config')
    .description('validate the environment and print the effective configuration, secrets hidden')
    .action(checkConfig);
  for (const command of [program, ...program.commands]) {
    const help = command === program ? 'rowcast --help' : `rowcast ${command.name()} --help`;
    command.configureOutput({
      outputError: (message, write) => write(`rowcast: ${message.replace(/^error: /, '').trim()} (see ${help})\n`),
    });
  }
  return program;
}

buildProgram().parseAsync(process.argv).catch(fail);
