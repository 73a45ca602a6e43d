import { type ExecutionContext, HttpException, HttpStatus, Injectable, UseGuards } from '@nestjs/common';
import { normalizeIp, ThrottlerGuard, type ThrottlerLimitDetail, ThrottlerModule } from '@nestjs/throttler';
import type { ThrottleSettings } from '../config/config.js';
import type { ErrorBody } from './errors.js';

const MINUTE_MS = 60_000;

/** The limit on expensive routes, per tenant (per client address where there is no tenant yet). */
export function throttlerModule(settings: ThrottleSettings) {
  const limit = settings.expensivePerMinute;
  // 'default' keeps the header names plain: Retry-After, X-RateLimit-Limit, -Remaining, -Reset.
  return ThrottlerModule.forRoot({
    throttlers: [{ name: 'default', ttl: MINUTE_MS, limit: Math.max(limit, 1), blockDuration: MINUTE_MS }],
    skipIf: () => limit === 0,
  });
}

/** A 429 in the service's error shape. */
export function tooManyRequests(message: string): HttpException {
  return new HttpException(
    { statusCode: 429, error: 'Too Many Requests', message } satisfies ErrorBody,
    HttpStatus.TOO_MANY_REQUESTS,
  );
}

@Injectable()
export class ExpensiveRouteThrottle extends ThrottlerGuard {
  // What the auth guard left on the request (tenancy's AuthenticatedRequest, which common/ does not import).
  protected override async getTracker(request: { tenant?: { tenantId: string }; ip?: string }): Promise<string> {
    const tenantId = request.tenant?.tenantId;
    return tenantId ? `tenant:${tenantId}` : `address:${normalizeIp(request.ip ?? '')}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const route = context.switchToHttp().getRequest<{ routeOptions?: { url?: string } }>().routeOptions?.url ?? '';
    throw tooManyRequests(
      `too many calls to ${route}: at most ${detail.limit} a minute ${detail.tracker.startsWith('tenant:') ? 'per tenant' : 'per client address'}; retry in ${detail.timeToBlockExpire} s`,
    );
  }
}

/** Preview, test, check, redeem, replay: each costs far more than a read. */
export const ExpensiveRoute = () => UseGuards(ExpensiveRouteThrottle);
