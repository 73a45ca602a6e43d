import { BadRequestException } from '@nestjs/common';
import type { FastifyBodyParser } from 'fastify';
import { parse as parseJson } from 'secure-json-parse';
import type { ErrorBody } from './errors.js';

/** What an API body may weigh (Express's default, kept when moving to Fastify). */
export const BODY_LIMIT_BYTES = 100 * 1024;

/** How deep a body may nest: no API shape comes near it, and deeper ones overflow the validator's recursion. */
export const MAX_BODY_DEPTH = 64;

/** Whether JSON text nests deeper than `limit` (a linear scan, before anything recursive sees it). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * The JSON body parser: an empty body is no body (the validation pipe then sees `{}`), a body
 * that does not parse answers 400 saying so, and `__proto__` / `constructor.prototype` keys are
 * refused instead of reaching class-transformer, and so is one nested deeper than MAX_BODY_DEPTH.
 */
export const parseJsonBody: FastifyBodyParser<Buffer> = (_request, body, done) => {
  if (body.length === 0) return done(null, undefined);
  const text = body.toString('utf8');
  if (nestsDeeperThan(text, MAX_BODY_DEPTH))
    return done(
      new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `Request body nests deeper than ${MAX_BODY_DEPTH} levels`,
      } satisfies ErrorBody),
      undefined,
    );
  try {
    done(null, parseJson(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
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
