import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';

/** Who is calling: set by the auth guard on every tenant route. */
export interface TenantContext {
  tenantId: string;
  apiKeyId: string;
}

export type AuthenticatedRequest = Request & { tenant?: TenantContext };

export const ACCESS_KEY = 'waybill:access';
export type Access = 'public' | 'operator';

/** No key needed (health, docs). */
export const Public = () => SetMetadata(ACCESS_KEY, 'public' satisfies Access);
/** Only the operator's ADMIN_TOKEN. */
export const OperatorOnly = () => SetMetadata(ACCESS_KEY, 'operator' satisfies Access);

export const CurrentTenant = createParamDecorator((_: unknown, context: ExecutionContext): TenantContext => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!request.tenant) throw new Error('CurrentTenant used on a route without tenant authentication');
  return request.tenant;
});
