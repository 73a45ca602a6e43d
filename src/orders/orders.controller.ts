import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { CurrentTenant, type TenantContext } from '../tenancy/tenant-context.js';
import { ChangeOrderStatusDto, CreateOrderDto, ListOrdersQuery, UpdateOrderDto } from './orders.dto.js';
import { OrdersService } from './orders.service.js';
import { ApiAnswer, ApiErrors } from '../common/openapi.js';
import { ORDER, ORDER_PAGE } from './orders.schemas.js';

@ApiTags('orders')
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @ApiOperation({ summary: 'Create an order (emits order.created)' })
  @ApiAnswer(201, 'The order', ORDER)
  @ApiErrors([409, 'An order with this orderNumber exists'])
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateOrderDto) {
    return this.orders.create(tenant.tenantId, body);
  }

  @Get()
  @ApiOperation({ summary: 'Orders, newest first' })
  @ApiAnswer(200, 'A page of orders', ORDER_PAGE)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListOrdersQuery) {
    return this.orders.list(tenant.tenantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'An order' })
  @ApiAnswer(200, 'The order', ORDER)
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.orders.get(tenant.tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change fields (emits order.updated with the changes; nothing when nothing changed)' })
  @ApiAnswer(200, 'The order', ORDER)
  update(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: UpdateOrderDto) {
    return this.orders.update(tenant.tenantId, id, body);
  }

  @Post(':id/status')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Move the order to another status (emits order.status_changed); 409 names the allowed moves',
  })
  @ApiAnswer(200, 'The order', ORDER)
  @ApiErrors([409, 'The move is not allowed (the message names the allowed ones)'])
  changeStatus(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ChangeOrderStatusDto,
  ) {
    return this.orders.changeStatus(tenant.tenantId, id, body);
  }
}
