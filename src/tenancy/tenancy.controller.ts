import { ExpensiveRoute } from '../common/throttling.js';
import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { TenancyService } from './tenancy.service.js';
import { PortalService } from './portal.service.js';
import { CreateApiKeyDto, CreatePortalSessionDto, CreateTenantDto, RedeemPortalSessionDto } from './tenancy.dto.js';
import { CurrentTenant, OperatorOnly, PortalRule, Public, type TenantContext } from './tenant-context.js';
import { ApiAnswer, ApiErrors } from '../common/openapi.js';
import {
  API_KEY_CREATED,
  API_KEY_PAGE,
  PORTAL_SESSION,
  PORTAL_SESSION_TOKEN,
  TENANT_CREATED,
} from './tenancy.schemas.js';

@ApiTags('tenancy')
@Controller('v1')
export class TenancyController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly portal: PortalService,
  ) {}

  @Post('tenants')
  @OperatorOnly()
  @ApiOperation({ summary: 'Create a tenant (operator only: Bearer $ADMIN_TOKEN); the API key is shown once' })
  @ApiAnswer(201, 'The tenant and its first API key', TENANT_CREATED)
  @ApiErrors([403, 'Tenant creation is off: ADMIN_TOKEN is not set'])
  createTenant(@Body() body: CreateTenantDto) {
    return this.tenancy.createTenant(body.name);
  }

  @Post('api-keys')
  @ApiOperation({ summary: 'Create an API key for this tenant; the key is shown once' })
  @ApiAnswer(201, 'The key', API_KEY_CREATED)
  createKey(@CurrentTenant() tenant: TenantContext, @Body() body: CreateApiKeyDto) {
    return this.tenancy.createKey(tenant.tenantId, body.name);
  }

  @Get('api-keys')
  @ApiOperation({ summary: "This tenant's API keys (never their values)" })
  @ApiAnswer(200, 'The keys, newest first', API_KEY_PAGE)
  listKeys(@CurrentTenant() tenant: TenantContext) {
    return this.tenancy.listKeys(tenant.tenantId);
  }

  @Delete('api-keys/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key: it answers 401 from now on' })
  @ApiAnswer(204, 'Revoked')
  async revokeKey(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.tenancy.revokeKey(tenant.tenantId, id);
  }

  @Post('portal-sessions')
  @ApiOperation({
    summary: 'A one-time link into /settings for the host TMS, signed in as this tenant (read-only if asked)',
  })
  @ApiAnswer(201, 'The link', PORTAL_SESSION)
  createPortalSession(@CurrentTenant() tenant: TenantContext, @Body() body: CreatePortalSessionDto) {
    return this.portal.create(tenant, body);
  }

  @Post('portal-sessions/redeem')
  @Public()
  @ExpensiveRoute()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Exchange a one-time link for the settings session token (once; the settings screen does this)',
  })
  @ApiAnswer(200, 'The session token', PORTAL_SESSION_TOKEN)
  @ApiErrors([401, 'The link expired or was used already'], [429, 'Too many attempts: wait for Retry-After'])
  redeemPortalSession(@Body() body: RedeemPortalSessionDto) {
    return this.portal.redeem(body.code);
  }

  @Delete('portal-sessions/current')
  @PortalRule('reads')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the calling settings session (Sign out)' })
  @ApiAnswer(204, 'Ended')
  @ApiErrors([400, 'The caller is not a settings session'])
  async endPortalSession(@CurrentTenant() tenant: TenantContext): Promise<void> {
    if (!tenant.portal)
      throw new BadRequestException(
        'only a settings session can end itself; revoke API keys with DELETE /v1/api-keys/:id',
      );
    await this.portal.end(tenant.portal.sessionId);
  }
}
