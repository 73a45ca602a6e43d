import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

/** Who is calling: set by the auth guard on every tenant route. */
export interface TenantContext {
  tenantId: string;
  /** The API key used; null for a feed token. */
  apiKeyId: string | null;
  /** Set when the caller presented a feed token: it may read and acknowledge this one feed only. */
  feedWebhookId?: string;
  /** Set when the caller is a settings-screen session opened through a portal link. */
  portal?: { sessionId: string; readOnly: boolean };
}

export type AuthenticatedRequest = Request & { tenant?: TenantContext };

export const ACCESS_KEY = 'waybill:access';
export type Access = 'public' | 'operator' | 'feed';

/** No key needed (health, docs). */
export const Public = () => SetMetadata(ACCESS_KEY, 'public' satisfies Access);
/** A tenant API key, or a feed token for the feed named by the route's :webhookId. */
export const FeedAccess = () => SetMetadata(ACCESS_KEY, 'feed' satisfies Access);
/** Only the operator's ADMIN_TOKEN. */
export const OperatorOnly = () => SetMetadata(ACCESS_KEY, 'operator' satisfies Access);

export const PORTAL_KEY = 'waybill:portal';
/**
 * How a route treats portal sessions. By default a read-only session may only GET; `reads` marks
 * a POST that changes nothing (previews), `secret` a GET that shows a secret (not for read-only
 * sessions), `denied` a route no portal session may use (API keys, new portal sessions).
 */
export type PortalRule = 'reads' | 'secret' | 'denied';
export const PortalRule = (rule: PortalRule) => SetMetadata(PORTAL_KEY, rule);

export const CurrentTenant = createParamDecorator((_: unknown, context: ExecutionContext): TenantContext => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.tenant) throw new Error('CurrentTenant used on a route without tenant authentication');
  return request.tenant;
});
