import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { safeEqual } from './api-key-secret.js';
import { AuthFailureThrottle } from './auth-failure-throttle.js';
import { TenancyService } from './tenancy.service.js';
import {
  type Access,
  ACCESS_KEY,
  type AuthenticatedRequest,
  PORTAL_KEY,
  type PortalRule,
  type TenantContext,
} from './tenant-context.js';

function bearerToken(request: AuthenticatedRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** A bearer secret as Waybill makes them (API key, settings session, feed token): a prefix and 32 random bytes. */
function isCredentialShaped(token: string | undefined): boolean {
  return token !== undefined && /^wb[a-z]?_[A-Za-z0-9_-]{43}$/.test(token);
}

/** Every route needs a tenant API key unless marked @Public() or @OperatorOnly(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tenancy: TenancyService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly failures: AuthFailureThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (access === 'public') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const address = request.ip;
    // A refused address still lets through a tenant credential that proves valid: those are 256
    // random bits (no guess succeeds), and the address may be a NAT or proxy shared with the
    // client that keeps failing (an ERP polling with a revoked feed token) — that one must not
    // lock out everyone else there. The operator's token, chosen by a person, gets no such pass,
    // and neither does anything not shaped like a Waybill credential (no lookup for those).
    const wait = this.failures.blockedFor(address);
    if (wait > 0 && (access === 'operator' || !isCredentialShaped(bearerToken(request))))
      throw this.refuse(context, wait);
    try {
      return await this.authenticate(context, request, access);
    } catch (error) {
      if (!(error instanceof UnauthorizedException)) throw error;
      if (wait > 0) throw this.refuse(context, wait);
      const blocked = await this.failures.recordFailure(address);
      throw blocked > 0 ? this.refuse(context, blocked) : error;
    }
  }

  private refuse(context: ExecutionContext, seconds: number) {
    context
      .switchToHttp()
      .getResponse<{ header(name: string, value: string): void }>()
      .header('Retry-After', String(seconds));
    return this.failures.refusal(seconds);
  }

  private async authenticate(
    context: ExecutionContext,
    request: AuthenticatedRequest,
    access: Access | undefined,
  ): Promise<boolean> {
    const token = bearerToken(request);

    if (access === 'operator') {
      if (!this.config.adminToken) {
        throw new ForbiddenException('tenant creation is off: the operator has not set ADMIN_TOKEN');
      }
      if (!token || !safeEqual(token, this.config.adminToken)) {
        throw new UnauthorizedException('this route needs Authorization: Bearer <ADMIN_TOKEN>');
      }
      return true;
    }

    if (!token) throw new UnauthorizedException('missing API key: send Authorization: Bearer <key>');
    const tenant = await this.tenancy.authenticate(token);
    if (!tenant) throw new UnauthorizedException('invalid or revoked API key');
    if (tenant.feedWebhookId && access !== 'feed')
      throw new UnauthorizedException('a feed token can only read and acknowledge its own feed');
    if (tenant.portal)
      this.checkPortal(
        tenant.portal,
        request.method,
        this.reflector.getAllAndOverride<PortalRule | undefined>(PORTAL_KEY, [
          context.getHandler(),
          context.getClass(),
        ]),
      );
    request.tenant = tenant;
    return true;
  }

  /** A settings session may use the screen's routes only; a read-only one changes nothing and sees no secret. */
  private checkPortal(
    portal: NonNullable<TenantContext['portal']>,
    method: string,
    rule: PortalRule | undefined,
  ): void {
    if (!rule)
      throw new ForbiddenException(
        'a settings session can only use what the settings screen uses; call this route with an API key',
      );
    if (rule === 'never')
      throw new ForbiddenException('a settings session cannot do this (it would outlive the session): use an API key');
    if (!portal.readOnly) return;
    if (rule === 'secret') throw new ForbiddenException('this settings session is read-only: it cannot reveal secrets');
    if (rule === 'preview') throw new ForbiddenException('this settings session is read-only: it runs no previews');
    const reads = method === 'GET' || method === 'HEAD' || rule === 'reads';
    if (!reads) throw new ForbiddenException('this settings session is read-only: it cannot change anything');
  }
}
