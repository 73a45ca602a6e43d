import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { type ErrorBody, httpErrorFromDatabase, httpErrorName } from './errors.js';

function isBodyParseError(error: unknown): error is { type: string; status: number } {
  return typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string';
}

/** Every error answers `{ statusCode, error, message, errors? }`; nothing internal reaches the client. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (!response.headersSent) response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException && isBodyParseError(exception.cause)) return this.toBody(exception.cause);
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
    if (isBodyParseError(exception)) {
      const status =
        'status' in exception && exception.status >= 400 && exception.status < 500 ? exception.status : 400;
      const message =
        exception.type === 'entity.parse.failed'
          ? `Request body is not valid JSON${'message' in exception ? `: ${String(exception.message)}` : ''}`
          : exception.type === 'entity.too.large'
            ? 'Request body is too large'
            : `Request body could not be read (${exception.type})`;
      return { statusCode: status, error: httpErrorName(status), message };
    }
    if (exception instanceof QueryFailedError) {
      const mapped = httpErrorFromDatabase(exception.driverError as { code?: string });
      if (mapped) return this.toBody(mapped);
    }
    return { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };
  }
}
