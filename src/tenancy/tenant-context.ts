import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiAccess } from '../common/openapi.js';

/** Who is calling: set by the auth guard on every tenant route. */
export interface TenantContext {
  tenantId: string;
  /** The API key used; null for a feed token. */
  apiKeyId: string | null;
  /** Set when the caller presented a feed token: it may read and acknowledge this one feed only. */
  feedWebhookId?: string;
  /** Set when the caller is a settings-screen session opened through a portal link. */
  portal?: { sessionId: string; readOnly: boolean };
  /**
   * Whether the credential is still alive (not revoked or expired since, nor its API key): a
   * long poll asks before it answers with data, so a revocation holds "at once" for it too.
   */
  stillValid?: () => Promise<boolean>;
}

export type AuthenticatedRequest = FastifyRequest & { tenant?: TenantContext };

export const ACCESS_KEY = 'waybill:access';
export type Access = 'public' | 'operator' | 'feed';

/** No key needed (health, docs). */
export const Public = () => applyDecorators(SetMetadata(ACCESS_KEY, 'public' satisfies Access), ApiAccess('public'));
/** A tenant API key, or a feed token for the feed named by the route's :webhookId. */
export const FeedAccess = () => applyDecorators(SetMetadata(ACCESS_KEY, 'feed' satisfies Access), ApiAccess('feed'));
/** Only METRICS_TOKEN, which the route checks itself (no tenant credential, no auth-failure throttle). */
export const MetricsTokenOnly = () =>
  applyDecorators(SetMetadata(ACCESS_KEY, 'public' satisfies Access), ApiAccess('metrics'));
/** Only the operator's ADMIN_TOKEN. */
export const OperatorOnly = () =>
  applyDecorators(SetMetadata(ACCESS_KEY, 'operator' satisfies Access), ApiAccess('operator'));

export const PORTAL_KEY = 'waybill:portal';
/**
 * Which routes a settings-screen (portal) session may use: only those marked, deny by default.
 * `screen`: a route the screen uses; a read-only session may only GET it. `reads`: a POST or
 * DELETE that changes no tenant data (the draft preview, the connection check, sign-out), open
 * to read-only sessions too. `secret`: a GET that shows a secret, closed to read-only sessions.
 * `preview`: runs the tenant's payload expression (a preview), closed to read-only sessions.
 * `never`: a route of a screen's resource that only an API key may use (minting a feed token).
 */
export type PortalRule = 'screen' | 'reads' | 'secret' | 'preview' | 'never';
export const PortalRule = (rule: PortalRule) => SetMetadata(PORTAL_KEY, rule);

export const CurrentTenant = createParamDecorator((_: unknown, context: ExecutionContext): TenantContext => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.tenant) throw new Error('CurrentTenant used on a route without tenant authentication');
  return request.tenant;
});
