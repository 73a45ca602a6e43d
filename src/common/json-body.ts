import { BadRequestException } from '@nestjs/common';
import type { FastifyBodyParser } from 'fastify';
import { parse as parseJson } from 'secure-json-parse';
import type { ErrorBody } from './errors.js';

/** What an API body may weigh (Express's default, kept when moving to Fastify). */
export const BODY_LIMIT_BYTES = 100 * 1024;

/**
 * The JSON body parser: an empty body is no body (the validation pipe then sees `{}`), a body
 * that does not parse answers 400 saying so, and `__proto__` / `constructor.prototype` keys are
 * refused instead of reaching class-transformer.
 */
export const parseJsonBody: FastifyBodyParser<Buffer> = (_request, body, done) => {
  if (body.length === 0) return done(null, undefined);
  try {
    done(null, parseJson(body.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    done(
      new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `Request body is not valid JSON: ${detail}`,
      } satisfies ErrorBody),
      undefined,
    );
  }
};
