import { applyDecorators } from '@nestjs/common';
import { ApiExtension, ApiResponse } from '@nestjs/swagger';

/**
 * Answer schemas of the OpenAPI document (3.1, so JSON Schema 2020-12). Each module declares its
 * own with `component`, which registers it once under its name; the document builder (src/openapi.ts)
 * puts every registered schema under components.schemas.
 */
export type JsonSchema = { [key: string]: unknown };
export type SchemaRef = JsonSchema & { $ref: string };

const registry = new Map<string, JsonSchema>();

export function component(name: string, schema: JsonSchema): SchemaRef {
  const known = registry.get(name);
  if (known && JSON.stringify(known) !== JSON.stringify(schema)) throw new Error(`schema ${name} declared twice`);
  registry.set(name, schema);
  return { $ref: `#/components/schemas/${name}` };
}

export function registeredSchemas(): Record<string, JsonSchema> {
  return Object.fromEntries(registry);
}

export const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
export const string: JsonSchema = { type: 'string' };
export const integer: JsonSchema = { type: 'integer' };
export const number: JsonSchema = { type: 'number' };
export const boolean: JsonSchema = { type: 'boolean' };
export const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
export const uuid: JsonSchema = { type: 'string', format: 'uuid' };
export const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
export const oneOfValues = (values: readonly string[], description?: string): JsonSchema => ({
  type: 'string',
  enum: [...values],
  ...(description ? { description } : {}),
});

/** An object whose every property is always present (null where unknown) and nothing else, except `optional` ones. */
export function record(
  properties: Record<string, JsonSchema>,
  options: { optional?: string[]; description?: string } = {},
): JsonSchema {
  const optional = new Set(options.optional ?? []);
  return {
    type: 'object',
    ...(options.description ? { description: options.description } : {}),
    properties,
    required: Object.keys(properties).filter((key) => !optional.has(key)),
    additionalProperties: false,
  };
}

/** `{ data: [...], nextCursor }`, the shape of every list. */
export function pageOf(name: string, item: SchemaRef | JsonSchema): SchemaRef {
  return component(
    name,
    record(
      {
        data: { type: 'array', items: item },
        nextCursor: { ...nullable(string), description: 'Pass as cursor for the next page; null at the end' },
      },
      { description: `A page of ${name.replace(/Page$/, '')} items, newest first unless said otherwise` },
    ),
  );
}

export const ERROR = component(
  'Error',
  record(
    {
      statusCode: { type: 'integer', minimum: 400, maximum: 599 },
      error: { ...string, examples: ['Bad Request'] },
      message: { ...string, description: 'What went wrong, in words a user can act on' },
      errors: {
        type: 'array',
        description: 'For 400: each bad field by its path (lines.0.quantity)',
        items: record({ field: string, message: string }),
      },
    },
    { optional: ['errors'], description: 'Every error answer' },
  ),
);

/** The success answer of an operation: its status and schema (JSON unless `contentType` says otherwise). */
export function ApiAnswer(
  status: number,
  description: string,
  schema?: SchemaRef | JsonSchema,
  contentType = 'application/json',
) {
  if (!schema) return ApiResponse({ status, description });
  return ApiResponse({ status, description, content: { [contentType]: { schema: schema as never } } });
}

/**
 * Error answers beyond those every operation of its kind can give (the document builder adds 401,
 * 403 and 429 to authenticated operations, 400, 413 and 415 to those that take a body, 400 to those
 * with a query, 404 to those with a path id); e.g. 409 for a duplicate or a forbidden move.
 */
export function ApiErrors(...statuses: Array<[status: number, description: string]>) {
  return applyDecorators(...statuses.map(([status, description]) => ApiResponse({ status, description })));
}

export type ApiAccess = 'public' | 'operator' | 'feed' | 'key' | 'metrics';
export const ACCESS_EXTENSION = 'x-waybill-access';
/** Tells the document builder which security an operation (or every operation of a class) takes. */
export const ApiAccess = (access: ApiAccess) => ApiExtension(ACCESS_EXTENSION, { access });
