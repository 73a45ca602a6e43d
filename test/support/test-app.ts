import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { configureApp, createHttpAdapter } from '../../src/app.js';
import { AppModule } from '../../src/app.module.js';
import { type AppConfig, loadConfig } from '../../src/config/config.js';
import { TenancyService } from '../../src/tenancy/tenancy.service.js';
import { ContractChecker } from './contract.js';
import { createTestDatabase } from './test-database.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TEST_ENCRYPTION_KEY = '7f'.repeat(32);
export const METRICS_TOKEN = 'test-metrics-token-0123456789';

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Provider overrides, e.g. a DNS resolver that makes a name resolve anywhere. */
  overrides?: Array<{ provide: unknown; useValue: unknown }>;
  /** Join another test app's database (a second instance); it is not dropped on close. */
  databaseUrl?: string;
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestApp {
  app: NestFastifyApplication;
  baseUrl: string;
  databaseUrl: string;
  /** A tenant and its API key, made for this suite. */
  tenant: { id: string; key: string };
  newTenant(name?: string): Promise<{ id: string; key: string }>;
  api<T = any>(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      raw?: string;
      key?: string | null;
      headers?: Record<string, string>;
      /** false: skip the check of the answer against the OpenAPI document (an answer no client sees, e.g. /docs). */
      contract?: boolean;
    },
  ): Promise<ApiAnswer<T>>;
  close(): Promise<void>;
}

/** Boots the real application (every module) on its own database, listening on a loopback port. */
export async function createTestApp(options: TestAppOptions | Record<string, string> = {}): Promise<TestApp> {
  const isOptions = 'env' in options || 'overrides' in options || 'databaseUrl' in options;
  const { env = {}, overrides = [], databaseUrl } = (isOptions ? options : { env: options }) as TestAppOptions;
  const database = databaseUrl ? { url: databaseUrl, drop: async () => undefined } : await createTestDatabase();
  const config: AppConfig = loadConfig({
    ADMIN_TOKEN,
    LOG_LEVEL: 'error',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    METRICS_TOKEN,
    // Suites make many calls from one address: throttling is tested where it is set low.
    THROTTLE_AUTH_FAILURES_PER_MINUTE: '0',
    THROTTLE_EXPENSIVE_PER_MINUTE: '0',
    ...env,
    DATABASE_URL: database.url,
  });
  let builder = Test.createTestingModule({ imports: [AppModule.forRoot(config, database.url)] });
  for (const override of overrides) builder = builder.overrideProvider(override.provide).useValue(override.useValue);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createHttpAdapter(config.trustProxy), {
    logger: ['error', 'fatal'],
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const tenancy = app.get(TenancyService);

  const newTenant = async (name = 'Test tenant') => {
    const created = await tenancy.createTenant(name);
    return { id: created.tenant.id, key: created.apiKey };
  };
  const tenant = await newTenant();

  let contract: ContractChecker | undefined;
  const api: TestApp['api'] = async (method, path, options = {}) => {
    const key = options.key === undefined ? tenant.key : options.key;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    if (options.contract !== false) {
      contract ??= new ContractChecker((await (await fetch(`${baseUrl}/docs-json`)).json()) as never);
      const problems = contract.problems(method, path, response.status, response.headers.get('content-type'), parsed);
      if (problems.length > 0) throw new Error(`answer differs from the OpenAPI document:\n${problems.join('\n')}`);
    }
    return { status: response.status, body: parsed as any, headers: response.headers };
  };

  return {
    app,
    baseUrl,
    databaseUrl: database.url,
    tenant,
    newTenant,
    api,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}
