import { boolean, component, dateTime, nullable, pageOf, record, string, uuid } from '../common/openapi.js';

export const TENANT = component('Tenant', record({ id: uuid, name: string, createdAt: dateTime }));

export const TENANT_CREATED = component(
  'TenantCreated',
  record({
    tenant: TENANT,
    apiKey: { ...string, description: 'The plaintext API key, shown once' },
  }),
);

export const API_KEY = component(
  'ApiKey',
  record({
    id: uuid,
    name: string,
    prefix: { ...string, description: 'The first characters of the key, to tell keys apart' },
    createdAt: dateTime,
    lastUsedAt: nullable(dateTime),
  }),
);

export const API_KEY_CREATED = component(
  'ApiKeyCreated',
  record({ id: uuid, name: string, key: { ...string, description: 'The key, shown once' }, createdAt: dateTime }),
);

export const API_KEY_PAGE = pageOf('ApiKeyPage', API_KEY);

export const PORTAL_SESSION = component(
  'PortalSession',
  record({
    url: { type: 'string', format: 'uri', description: 'A one-time link into /settings; starts with PUBLIC_URL' },
    expiresAt: dateTime,
  }),
);

export const PORTAL_SESSION_TOKEN = component(
  'PortalSessionToken',
  record({
    token: { ...string, description: 'Bearer token of the settings session' },
    readOnly: boolean,
    expiresAt: dateTime,
  }),
);
