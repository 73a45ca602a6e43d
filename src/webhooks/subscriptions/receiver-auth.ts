import { createPrivateKey, X509Certificate } from 'node:crypto';

/**
 * How Waybill authenticates to a subscription's receiver, and the client certificate it presents.
 * Everything secret is sealed at rest and never shown again; what the API shows is the type and
 * the fields an admin needs to recognise the settings (username, client id, token URL).
 */
export const AUTH_TYPES = ['none', 'basic', 'bearer', 'oauth2ClientCredentials'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

export type AuthSettings =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | {
      type: 'oauth2ClientCredentials';
      tokenUrl: string;
      clientId: string;
      clientSecret: string;
      scope?: string;
      audience?: string;
      clientAuth?: ClientAuthMethod;
    };

export interface TlsSettings {
  clientCertificatePem: string;
  clientKeyPem: string;
  caPem?: string;
}

/** What the API shows of a subscription's authentication. */
export type AuthView =
  | { type: 'none' }
  | { type: 'basic'; configured: true; username: string }
  | { type: 'bearer'; configured: true }
  | {
      type: 'oauth2ClientCredentials';
      configured: true;
      tokenUrl: string;
      clientId: string;
      scope: string | null;
      audience: string | null;
      clientAuth: ClientAuthMethod;
    };

/** What the API shows of a subscription's client certificate. */
export interface TlsView {
  configured: true;
  subject: string;
  issuer: string;
  validTo: string;
  caConfigured: boolean;
}

export type Problem = { field: string; message: string };

/** Secret fields per type: write-only, and kept from the stored settings when a PATCH of the same type leaves them out. */
export const SECRET_FIELDS: Record<AuthType, string[]> = {
  none: [],
  basic: ['password'],
  bearer: ['token'],
  oauth2ClientCredentials: ['clientSecret'],
};

const FIELDS: Record<AuthType, { required: string[]; optional: string[] }> = {
  none: { required: [], optional: [] },
  basic: { required: ['username', 'password'], optional: [] },
  bearer: { required: ['token'], optional: [] },
  oauth2ClientCredentials: {
    required: ['tokenUrl', 'clientId', 'clientSecret'],
    optional: ['scope', 'audience', 'clientAuth'],
  },
};

/** Characters an HTTP header value may carry (no CR, LF or NUL), bounded. */
const HEADER_SAFE = /^[^\r\n\0]{1,4096}$/;

/** Problems with `auth` as given (empty when it can be saved). The token URL's address is checked by the URL guard. */
export function authProblems(value: unknown): Problem[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ field: 'auth', message: `must be an object with a type: ${AUTH_TYPES.join(', ')}` }];
  }
  const o = value as Record<string, unknown>;
  if (!AUTH_TYPES.includes(o.type as AuthType))
    return [{ field: 'auth.type', message: `must be one of ${AUTH_TYPES.join(', ')}` }];
  const type = o.type as AuthType;
  const { required, optional } = FIELDS[type];
  const problems: Problem[] = [];
  for (const key of Object.keys(o)) {
    if (key !== 'type' && !required.includes(key) && !optional.includes(key))
      problems.push({ field: `auth.${key}`, message: `is not a field of ${type} authentication` });
  }
  for (const key of required) {
    if (typeof o[key] !== 'string' || !HEADER_SAFE.test(o[key] as string))
      problems.push({ field: `auth.${key}`, message: 'is required: a single-line string of at most 4096 characters' });
  }
  if (type === 'basic' && typeof o.username === 'string' && o.username.includes(':')) {
    problems.push({
      field: 'auth.username',
      message: 'must not contain ":" (HTTP Basic separates it from the password with one)',
    });
  }
  if (type === 'oauth2ClientCredentials') {
    for (const key of ['scope', 'audience']) {
      if (o[key] !== undefined && (typeof o[key] !== 'string' || !HEADER_SAFE.test(o[key] as string))) {
        problems.push({ field: `auth.${key}`, message: 'must be a single-line string of at most 4096 characters' });
      }
    }
    if (o.clientAuth !== undefined && !CLIENT_AUTH_METHODS.includes(o.clientAuth as ClientAuthMethod)) {
      problems.push({ field: 'auth.clientAuth', message: `must be one of ${CLIENT_AUTH_METHODS.join(', ')}` });
    }
  }
  return problems;
}

/** A PATCH of the same type may leave secrets out: the stored ones stay. */
export function mergeStoredSecrets(
  given: Record<string, unknown>,
  stored: AuthSettings | null,
): Record<string, unknown> {
  if (!stored || stored.type !== given.type) return given;
  // A client secret is only ever sent to the token endpoint's origin it was entered for.
  if (stored.type === 'oauth2ClientCredentials' && !sameOrigin(given.tokenUrl, stored.tokenUrl)) return given;
  const merged = { ...given };
  for (const key of SECRET_FIELDS[stored.type]) {
    if (merged[key] === undefined) merged[key] = (stored as unknown as Record<string, unknown>)[key];
  }
  return merged;
}

/** Both are URLs with the same scheme, host and port (anything unparsable is not). */
export function sameOrigin(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export function authView(settings: AuthSettings): AuthView {
  switch (settings.type) {
    case 'none':
      return { type: 'none' };
    case 'basic':
      return { type: 'basic', configured: true, username: settings.username };
    case 'bearer':
      return { type: 'bearer', configured: true };
    case 'oauth2ClientCredentials':
      return {
        type: 'oauth2ClientCredentials',
        configured: true,
        tokenUrl: settings.tokenUrl,
        clientId: settings.clientId,
        scope: settings.scope ?? null,
        audience: settings.audience ?? null,
        clientAuth: settings.clientAuth ?? 'client_secret_basic',
      };
  }
}

const PEM_LIMIT = 64 * 1024;

/**
 * Problems with `tls` as given, or what its certificate says: the certificate and key must parse
 * and belong together, and the CA bundle (when given) must hold at least one certificate.
 */
export function checkTls(value: unknown): { problems: Problem[]; view?: TlsView } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problems: [{ field: 'tls', message: 'must be { clientCertificatePem, clientKeyPem, caPem? } or null' }] };
  }
  const o = value as Record<string, unknown>;
  const problems: Problem[] = [];
  for (const key of Object.keys(o)) {
    if (!['clientCertificatePem', 'clientKeyPem', 'caPem'].includes(key))
      problems.push({ field: `tls.${key}`, message: 'is not a known field' });
  }
  let certificate: X509Certificate | undefined;
  if (typeof o.clientCertificatePem !== 'string' || o.clientCertificatePem.length > PEM_LIMIT) {
    problems.push({ field: 'tls.clientCertificatePem', message: 'is required: a PEM certificate' });
  } else {
    try {
      certificate = new X509Certificate(o.clientCertificatePem);
    } catch (error) {
      problems.push({
        field: 'tls.clientCertificatePem',
        message: `is not a PEM certificate: ${(error as Error).message}`,
      });
    }
  }
  if (typeof o.clientKeyPem !== 'string' || o.clientKeyPem.length > PEM_LIMIT) {
    problems.push({ field: 'tls.clientKeyPem', message: 'is required: a PEM private key (unencrypted)' });
  } else {
    try {
      const key = createPrivateKey(o.clientKeyPem);
      if (certificate && !certificate.checkPrivateKey(key))
        problems.push({ field: 'tls.clientKeyPem', message: 'does not belong to the client certificate' });
    } catch (error) {
      problems.push({
        field: 'tls.clientKeyPem',
        message: `is not an unencrypted PEM private key: ${(error as Error).message}`,
      });
    }
  }
  if (o.caPem !== undefined) {
    if (typeof o.caPem !== 'string' || o.caPem.length > PEM_LIMIT) {
      problems.push({ field: 'tls.caPem', message: 'must be one or more PEM certificates' });
    } else {
      try {
        new X509Certificate(o.caPem);
      } catch (error) {
        problems.push({ field: 'tls.caPem', message: `is not a PEM certificate: ${(error as Error).message}` });
      }
    }
  }
  if (problems.length > 0 || !certificate) return { problems };
  return {
    problems,
    view: {
      configured: true,
      subject: certificate.subject.replaceAll('\n', ', '),
      issuer: certificate.issuer.replaceAll('\n', ', '),
      validTo: new Date(certificate.validTo).toISOString(),
      caConfigured: typeof o.caPem === 'string',
    },
  };
}
