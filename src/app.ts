import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { BODY_LIMIT_BYTES, parseJsonBody } from './common/json-body.js';
import { AppValidationPipe } from './common/validation.pipe.js';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { createOpenApiDocument } from './openapi.js';
import { mountSettings } from './settings/settings-page.js';

/**
 * The HTTP adapter: Fastify, routing like Express did (a trailing slash and letter case do not
 * matter), with Express's 100 KiB body limit. `trustProxy` (TRUST_PROXY): which peers are
 * proxies whose X-Forwarded-For names the client, so throttling counts clients, not the proxy.
 */
export function createHttpAdapter(trustProxy: AppConfig['trustProxy'] = false): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
    ...(trustProxy === false ? {} : { trustProxy }),
  });
}

/**
 * The OpenAPI UI loads only its own files (its scripts are all files; its styles are partly
 * inline, its icons data: URIs), talks only to this service, and cannot be framed.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Everything main.ts and the test harness both apply to the app: body parsing, pipes, errors, OpenAPI. */
export function configureApp(app: NestFastifyApplication): void {
  app.useBodyParser('application/json', { bodyLimit: BODY_LIMIT_BYTES }, parseJsonBody);
  // Declared once so Fastify keeps one request shape (the auth guard sets it on every tenant route).
  app.getHttpAdapter().getInstance().decorateRequest('tenant', undefined);
  app.useGlobalPipes(new AppValidationPipe());
  app.useGlobalFilters(new HttpExceptionFilter(app.getHttpAdapter()));
  mountSettings(app, app.get<AppConfig>(APP_CONFIG));
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', async (request, reply, payload) => {
      const path = request.url.split('?')[0].toLowerCase();
      if (path === '/docs' || path.startsWith('/docs/')) reply.header('content-security-policy', DOCS_CSP);
      return payload;
    });
  const document = createOpenApiDocument(app, app.get<AppConfig>(APP_CONFIG).publicUrl);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
