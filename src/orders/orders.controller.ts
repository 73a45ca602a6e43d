import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { CurrentTenant, type TenantContext } from '../tenancy/tenant-context.js';
import { ChangeOrderStatusDto, CreateOrderDto, ListOrdersQuery, UpdateOrderDto } from './orders.dto.js';
import { OrdersService } from './orders.service.js';

@ApiTags('orders')
@ApiBearerAuth()
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @ApiOperation({ summary: 'Create an order (emits order.created)' })
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateOrderDto) {
    return this.orders.create(tenant.tenantId, body);
  }

  @Get()
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListOrdersQuery) {
    return this.orders.list(tenant.tenantId, query);
  }

  @Get(':id')
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.orders.get(tenant.tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change fields (emits order.updated with the changes; nothing when nothing changed)' })
  update(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: UpdateOrderDto) {
    return this.orders.update(tenant.tenantId, id, body);
  }

  @Post(':id/status')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Move the order to another status (emits order.status_changed); 409 names the allowed moves',
  })
  changeStatus(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ChangeOrderStatusDto,
  ) {
    return this.orders.changeStatus(tenant.tenantId, id, body);
  }
}
