/**
 * Logs: one JSON line per event that matters; readable lines in a terminal.
 * Row contents are never logged, only ids, tables and counts.
 */
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

export function createLogger(level: Config['logLevel'], destination: NodeJS.WriteStream = process.stdout): Logger {
  const options = { level, base: { service: 'rowcast' }, redact: ['*.token', '*.password', 'config.jwt'] };
  if (destination.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(options, destination);
}
