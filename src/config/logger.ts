import { ConsoleLogger, type LogLevel as NestLogLevel } from '@nestjs/common';
import type { AppConfig, LogLevel } from './config.js';

const LEVELS: Record<LogLevel, NestLogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  verbose: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** JSON lines in production (LOG_FORMAT=json), readable lines in development. */
export function createLogger(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): ConsoleLogger {
  return new ConsoleLogger('Waybill', {
    json: config.logFormat === 'json',
    colors: config.logFormat === 'pretty' && process.stdout.isTTY === true,
    logLevels: LEVELS[config.logLevel],
  });
}
