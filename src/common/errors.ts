import { BadRequestException, ConflictException, HttpException, HttpStatus } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

export interface FieldError {
  field: string;
  message: string;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errors?: FieldError[];
}

/** A 400 that names each bad field by its path (`lines.0.quantity`). */
export class FieldValidationException extends BadRequestException {
  constructor(readonly fieldErrors: FieldError[]) {
    super({
      statusCode: 400,
      error: 'Bad Request',
      message: `Invalid request: ${fieldErrors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      errors: fieldErrors,
    } satisfies ErrorBody);
  }
}

export function fieldError(field: string, message: string): FieldValidationException {
  return new FieldValidationException([{ field, message }]);
}

/** A problem inside a field's value: its path below the field ('' for the field itself) and what is wrong. */
export interface NestedProblem {
  path: string;
  message: string;
}

const NESTED = '\u0000nested:';

/**
 * A validation constraint's message that carries problems inside the field's value (a list entry,
 * a window's start): `flattenValidationErrors` lists each under its own path
 * (`maintenanceWindows.0.start`), as every other field error is named.
 */
export function nestedProblemsMessage(problems: NestedProblem[]): string {
  return NESTED + JSON.stringify(problems);
}

/** Flattens class-validator's tree into one entry per bad field, with dotted paths. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    if (error.constraints) {
      for (const [kind, raw] of Object.entries(error.constraints)) {
        if (raw.startsWith(NESTED)) {
          for (const p of JSON.parse(raw.slice(NESTED.length)) as NestedProblem[])
            out.push({ field: p.path ? `${field}.${p.path}` : field, message: p.message });
          continue;
        }
        const message =
          kind === 'whitelistValidation'
            ? 'is not a known field'
            : raw.startsWith(`${error.property} `)
              ? raw.slice(error.property.length + 1)
              : raw;
        out.push({ field, message });
      }
    }
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

export function conflict(message: string): ConflictException {
  return new ConflictException({ statusCode: 409, error: 'Conflict', message } satisfies ErrorBody);
}

export function httpErrorName(status: number): string {
  const name = HttpStatus[status];
  if (!name) return 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ')
    .replace(/^Ok$/, 'OK');
}

/** A message for each unique constraint, so a duplicate answers 409 in words a user can act on. */
const UNIQUE_MESSAGES: Record<string, string> = {
  order_number_unique: 'an order with this orderNumber already exists',
  shipment_number_unique: 'a shipment with this shipmentNumber already exists',
};

export function registerUniqueConstraintMessage(constraint: string, message: string): void {
  UNIQUE_MESSAGES[constraint] = message;
}

interface DriverError {
  code?: string;
  constraint?: string;
  detail?: string;
}

/** Maps PostgreSQL errors caused by input to HTTP errors, in one place; others stay 500. */
export function httpErrorFromDatabase(error: DriverError): HttpException | undefined {
  switch (error.code) {
    case '23505':
      return conflict(UNIQUE_MESSAGES[error.constraint ?? ''] ?? 'a record with these values already exists');
    case '22P02': // invalid text representation (a malformed uuid, say)
    case '22007': // invalid datetime format
    case '22008': // datetime field overflow
    case '22003': // numeric value out of range
    case '22021': // a byte sequence PostgreSQL cannot store (a NUL character, say)
      return new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: 'a value in the request has the wrong format or is out of range',
      } satisfies ErrorBody);
    default:
      return undefined;
  }
}
