import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';
import { ACCESS_EXTENSION, type ApiAccess, ERROR, type JsonSchema, registeredSchemas } from './common/openapi.js';
import { SERVICE_VERSION } from './version.js';

type ResponseObject = { description?: string; content?: unknown };
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/*
 * The OpenAPI document (3.1) the service serves at /docs-json, the one `npm run lint` checks and
 * the typed client is generated from. Nest's swagger module reads the controllers and the DTOs'
 * @ApiProperty decorators; this file adds what it cannot know:
 * - the answer schemas the modules declare with `component` (common/openapi.ts);
 * - the DTOs' constraints as the validation pipe applies them (class-validator metadata), so the
 *   document is never looser than the API, and `additionalProperties: false` (unknown fields are refused);
 * - security per operation from @Public / @OperatorOnly / @FeedAccess, and the error answers each
 *   kind of operation can give.
 * It runs the same way in the built service and in the test harness (no compile-time plugin), so
 * what the e2e suites validate answers against is what is served.
 */

const ERROR_WORDS: Record<number, string> = {
  400: 'Invalid input: `errors` names each bad field by its path; a body that is not valid JSON says so',
  401: 'No valid credentials',
  403: 'A settings session may not do this (read-only, or not a route of the screen)',
  404: 'No such resource for this tenant',
  409: 'Conflict',
  413: 'The request body is too large',
  415: 'A content type the API does not read: send application/json',
  429: 'Too many requests: wait for Retry-After',
  503: 'Unavailable',
};

const SECURITY: Record<ApiAccess, Array<Record<string, string[]>>> = {
  public: [],
  operator: [{ operator: [] }],
  feed: [{ feedToken: [] }, { apiKey: [] }],
  key: [{ apiKey: [] }],
  metrics: [{ metricsToken: [] }],
};

/**
 * What the body parser answers before any route runs, on every POST, PATCH and PUT (a route that
 * reads no body parses one all the same): JSON that does not parse is a 400 saying so, a content
 * type it does not read (anything but JSON, form or plain text; the latter two then fail
 * validation as "(body) must be a JSON object") a 415.
 */
const BODY_ERROR_EXAMPLES = {
  MalformedJsonBody: {
    summary: 'The body is not valid JSON',
    value: {
      statusCode: 400,
      error: 'Bad Request',
      message: 'Request body is not valid JSON: Unexpected end of JSON input',
    },
  },
  UnreadContentType: {
    summary: 'A content type other than JSON, form or plain text',
    value: { statusCode: 415, error: 'Unsupported Media Type', message: 'Unsupported Media Type' },
  },
};
const BODY_ERROR_EXAMPLE_OF: Record<number, keyof typeof BODY_ERROR_EXAMPLES> = {
  400: 'MalformedJsonBody',
  415: 'UnreadContentType',
};

export function createOpenApiDocument(app: INestApplication, publicUrl: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Waybill API')
    .setDescription(
      'Orders, shipments and their domain events, pushed as signed webhooks to ERP systems. ' +
        'Every /v1 route takes Authorization: Bearer <API key> unless its security says otherwise. ' +
        'Errors answer { statusCode, error, message, errors? }.',
    )
    .setVersion(SERVICE_VERSION)
    .setLicense('Proprietary', `${publicUrl}/docs`)
    .addServer(publicUrl)
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'A tenant API key, or a settings session token' },
      'apiKey',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: "The operator's ADMIN_TOKEN" }, 'operator')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'A feed token (POST /v1/webhooks/{id}/feed-token) for this feed' },
      'feedToken',
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: "The operator's METRICS_TOKEN (GET /metrics only)" },
      'metricsToken',
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) =>
      `${controller.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase())}_${method}`,
  });
  return finishDocument(document);
}

function finishDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components ??= {}).schemas ?? {};
  for (const [name, schema] of Object.entries(schemas)) schemas[name] = requestSchema(name, schema as JsonSchema);
  document.components.schemas = { ...schemas, ...registeredSchemas() };
  document.components.examples = { ...document.components.examples, ...BODY_ERROR_EXAMPLES };

  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const extensions = operation as unknown as Record<string, { access: ApiAccess } | undefined>;
      const extension = extensions[ACCESS_EXTENSION];
      delete extensions[ACCESS_EXTENSION];
      const access = extension?.access ?? 'key';
      operation.security = SECURITY[access];

      const parameters = (operation.parameters ?? []) as Array<{ in: string }>;
      const errors = new Set<number>();
      const parsesBody = method === 'post' || method === 'patch' || method === 'put';
      if (parsesBody) errors.add(400).add(413).add(415);
      if (parameters.some((p) => p.in === 'query')) errors.add(400);
      if (parameters.some((p) => p.in === 'path')) errors.add(404);
      // /metrics checks its own token (401 only); the others pass the auth guard and its throttle.
      if (access !== 'public' && access !== 'metrics') errors.add(401).add(429);
      if (access === 'key' || access === 'feed') errors.add(403);
      for (const status of errors) operation.responses[status] ??= { description: ERROR_WORDS[status] };
      for (const [status, response] of Object.entries(operation.responses) as Array<[string, ResponseObject]>) {
        if (Number(status) < 400 || response.content) continue;
        const example = parsesBody ? BODY_ERROR_EXAMPLE_OF[Number(status)] : undefined;
        const examples = example ? { examples: { [example]: { $ref: `#/components/examples/${example}` } } } : {};
        response.content = { 'application/json': { schema: ERROR, ...examples } };
        if (!response.description) response.description = ERROR_WORDS[Number(status)] ?? 'Error';
      }
      operation.responses = Object.fromEntries(
        Object.entries(operation.responses).sort(([a], [b]) => a.localeCompare(b)),
      );
    }
  }
  return document;
}

/** A DTO's schema as strict as its validation: class-validator's constraints, nulls where accepted, no unknown fields. */
function requestSchema(name: string, schema: JsonSchema): JsonSchema {
  const target = dtoClass(name);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  if (target) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
    const byProperty = new Map<string, ValidationMetadata[]>();
    for (const rule of rules) byProperty.set(rule.propertyName, [...(byProperty.get(rule.propertyName) ?? []), rule]);
    for (const [property, propertyRules] of byProperty) {
      if (!properties[property]) continue;
      properties[property] = applyRules(properties[property], propertyRules);
    }
  }
  for (const [property, value] of Object.entries(properties)) properties[property] = toJsonSchemaNull(value);
  return { ...schema, additionalProperties: false };
}

// class-validator keys its metadata by constructor (`Function` in its own types).
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type Constructor = Function;

function dtoClass(name: string): Constructor | undefined {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Constructor, unknown> };
  for (const target of storage.validationMetadatas.keys()) if (target.name === name) return target;
  return undefined;
}

/** Nest writes `nullable: true` (OpenAPI 3.0); 3.1 says null as a type. */
function toJsonSchemaNull(schema: JsonSchema): JsonSchema {
  if (schema.nullable !== true) return schema;
  const { nullable: _, ...rest } = schema;
  if (typeof rest.type === 'string') return { ...rest, type: [rest.type, 'null'] };
  return { anyOf: [rest, { type: 'null' }] };
}

function applyRules(schema: JsonSchema, rules: ValidationMetadata[]): JsonSchema {
  const out: JsonSchema = { ...schema };
  const items: JsonSchema = { ...((out.items as JsonSchema | undefined) ?? {}) };
  for (const rule of rules) {
    const name = rule.name ?? '';
    const target = rule.each ? items : out;
    const constraints: unknown[] = rule.constraints ?? [];
    const [a] = constraints;
    switch (name) {
      case 'min':
        target.minimum = a;
        break;
      case 'max':
        target.maximum = a;
        break;
      case 'isPositive':
        delete target.minimum;
        target.exclusiveMinimum = 0;
        break;
      case 'maxLength':
        target.maxLength = a;
        break;
      case 'minLength':
        target.minLength = a;
        break;
      case 'isNotEmpty':
        if (target.type === 'string') target.minLength = Math.max(1, Number(target.minLength ?? 0));
        break;
      case 'arrayMinSize':
        out.minItems = a;
        break;
      case 'arrayMaxSize':
        out.maxItems = a;
        break;
      case 'isIn':
        target.enum = [...(a as unknown[])];
        break;
      case 'isInt':
        target.type = 'integer';
        break;
      case 'matches':
        target.pattern = (a as RegExp).source;
        break;
      case 'isUuid':
        target.format = 'uuid';
        break;
      case 'isIso8601':
        target.format ??= 'date-time';
        break;
    }
  }
  if (Object.keys(items).length > 0) out.items = items;
  return out;
}
