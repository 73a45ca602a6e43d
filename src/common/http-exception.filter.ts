import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  type HttpServer,
  Logger,
} from '@nestjs/common';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { type ErrorBody, httpErrorFromDatabase, httpErrorName } from './errors.js';

/** An error Fastify raised before a route ran (body too large, unsupported content type, bad URL). */
function isFrameworkClientError(error: unknown): error is Error & { code: string; statusCode: number } {
  if (!(error instanceof Error)) return false;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  return (
    typeof code === 'string' &&
    code.startsWith('FST_') &&
    typeof statusCode === 'number' &&
    statusCode >= 400 &&
    statusCode < 500
  );
}

/** Every error answers `{ statusCode, error, message, errors? }`; nothing internal reaches the client. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(private readonly httpAdapter: HttpServer) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<unknown>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (this.httpAdapter.isHeadersSent(response)) return;
    // A route may have set its own content type (@Header) before it threw: the error is JSON.
    this.httpAdapter.setHeader(response, 'content-type', 'application/json; charset=utf-8');
    this.httpAdapter.reply(response, body, body.statusCode);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const answer = exception.getResponse();
      if (typeof answer === 'string') return { statusCode: status, error: httpErrorName(status), message: answer };
      const { message, errors } = answer as { message?: unknown; errors?: ErrorBody['errors'] };
      return {
        statusCode: status,
        error: httpErrorName(status),
        message: Array.isArray(message) ? message.join('; ') : String(message ?? exception.message),
        ...(errors ? { errors } : {}),
      };
    }
    if (isFrameworkClientError(exception)) {
      return {
        statusCode: exception.statusCode,
        error: httpErrorName(exception.statusCode),
        message: exception.message,
      };
    }
    // A statement run through TypeORM fails as QueryFailedError, one run on the pg pool as pg's DatabaseError.
    const driverError: unknown =
      exception instanceof QueryFailedError
        ? exception.driverError
        : exception instanceof pg.DatabaseError
          ? exception
          : undefined;
    if (driverError) {
      const mapped = httpErrorFromDatabase(driverError as { code?: string; constraint?: string });
      if (mapped) return this.toBody(mapped);
    }
    return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
  }
}
