import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { TenancyService } from './tenancy.service.js';
import { CreateApiKeyDto, CreateTenantDto } from './tenancy.dto.js';
import { CurrentTenant, OperatorOnly, type TenantContext } from './tenant-context.js';

@ApiTags('tenancy')
@ApiBearerAuth()
@Controller('v1')
export class TenancyController {
  constructor(private readonly tenancy: TenancyService) {}

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
}
