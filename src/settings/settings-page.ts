import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/config.js';

/** Where `vite build` puts the settings screen (see web/vite.config.ts). */
export const SETTINGS_BUILD_DIR = path.join(projectRoot(), 'dist', 'settings');

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json) above the settings module');
    dir = parent;
  }
  return dir;
}

/**
 * The screen's own rules: only its own scripts, styles and API; framed only by the TMS origins
 * in SETTINGS_FRAME_ANCESTORS; and no Referer, so a portal link never leaks through one.
 */
export function settingsHeaders(config: AppConfig): Record<string, string> {
  const ancestors = config.settingsFrameAncestors.length ? config.settingsFrameAncestors.join(' ') : "'none'";
  const headers: Record<string, string> = {
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      `frame-ancestors ${ancestors}`,
    ].join('; '),
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
  // Browsers without CSP level 2 still honour X-Frame-Options; it can only say "nobody".
  if (!config.settingsFrameAncestors.length) headers['x-frame-options'] = 'DENY';
  return headers;
}

/** Serves the built settings screen at /settings (the page) and /settings/assets (hashed files). */
export function mountSettings(app: NestFastifyApplication, config: AppConfig, buildDir = SETTINGS_BUILD_DIR): void {
  const headers = settingsHeaders(config);
  const indexFile = path.join(buildDir, 'index.html');

  const fastify = app.getHttpAdapter().getInstance();
  void fastify.register(fastifyStatic, {
    root: path.join(buildDir, 'assets'),
    prefix: '/settings/assets/',
    decorateReply: false,
    index: false,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => reply.headers(headers),
  });
  // One page: every path under /settings is the same screen (it routes with the URL hash). Read
  // per request (it is small) so a rebuild never leaves it pointing at assets that are gone.
  const servePage = (_request: FastifyRequest, reply: FastifyReply) => {
    const page = existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : undefined;
    reply.headers({ ...headers, 'cache-control': 'no-store' });
    if (!page) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The settings screen is not built: run `npm run build` (npm start does it).\n');
    }
    return reply.code(200).type('text/html; charset=utf-8').send(page);
  };
  fastify.get('/settings', servePage);
  fastify.get('/settings/*', servePage);
}
