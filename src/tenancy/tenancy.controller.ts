import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { TenancyService } from './tenancy.service.js';
import { PortalService } from './portal.service.js';
import { CreateApiKeyDto, CreatePortalSessionDto, CreateTenantDto, RedeemPortalSessionDto } from './tenancy.dto.js';
import { CurrentTenant, OperatorOnly, PortalRule, Public, type TenantContext } from './tenant-context.js';

@ApiTags('tenancy')
@ApiBearerAuth()
@Controller('v1')
export class TenancyController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly portal: PortalService,
  ) {}

  @Post('tenants')
  @OperatorOnly()
  @ApiOperation({ summary: 'Create a tenant (operator only: Bearer $ADMIN_TOKEN); the API key is shown once' })
  createTenant(@Body() body: CreateTenantDto) {
    return this.tenancy.createTenant(body.name);
  }

  @Post('api-keys')
  @ApiOperation({ summary: 'Create an API key for this tenant; the key is shown once' })
  createKey(@CurrentTenant() tenant: TenantContext, @Body() body: CreateApiKeyDto) {
    return this.tenancy.createKey(tenant.tenantId, body.name);
  }

  @Get('api-keys')
  listKeys(@CurrentTenant() tenant: TenantContext) {
    return this.tenancy.listKeys(tenant.tenantId);
  }

  @Delete('api-keys/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key: it answers 401 from now on' })
  async revokeKey(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.tenancy.revokeKey(tenant.tenantId, id);
  }

  @Post('portal-sessions')
  @ApiOperation({
    summary: 'A one-time link into /settings for the host TMS, signed in as this tenant (read-only if asked)',
  })
  createPortalSession(@CurrentTenant() tenant: TenantContext, @Body() body: CreatePortalSessionDto) {
    return this.portal.create(tenant, body);
  }

  @Post('portal-sessions/redeem')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Exchange a one-time link for the settings session token (once; the settings screen does this)',
  })
  redeemPortalSession(@Body() body: RedeemPortalSessionDto) {
    return this.portal.redeem(body.code);
  }

  @Delete('portal-sessions/current')
  @PortalRule('reads')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the calling settings session (Sign out)' })
  async endPortalSession(@CurrentTenant() tenant: TenantContext): Promise<void> {
    if (!tenant.portal)
      throw new BadRequestException(
        'only a settings session can end itself; revoke API keys with DELETE /v1/api-keys/:id',
      );
    await this.portal.end(tenant.portal.sessionId);
  }
}
