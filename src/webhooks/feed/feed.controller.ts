import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { CurrentTenant, FeedAccess, type TenantContext } from '../../tenancy/tenant-context.js';
import { FeedAckDto, FeedQuery } from '../subscriptions/webhooks.dto.js';
import { FeedService } from './feed.service.js';

@ApiTags('feeds')
@ApiBearerAuth()
@FeedAccess()
@Controller('v1/feeds')
export class FeedController {
  constructor(private readonly feeds: FeedService) {}

  @Get(':webhookId')
  @ApiOperation({
    summary:
      'Read a pull feed: what waits after the cursor (default: from the oldest unacknowledged); wait= long-polls',
  })
  read(
    @CurrentTenant() caller: TenantContext,
    @Param('webhookId', ParseIdPipe) webhookId: string,
    @Query() query: FeedQuery,
  ) {
    return this.feeds.read(caller, webhookId, query);
  }

  @Post(':webhookId/ack')
  @HttpCode(200)
  @ApiOperation({ summary: 'Acknowledge everything up to a cursor: those deliveries become delivered' })
  ack(
    @CurrentTenant() caller: TenantContext,
    @Param('webhookId', ParseIdPipe) webhookId: string,
    @Body() body: FeedAckDto,
  ) {
    return this.feeds.ack(caller, webhookId, body.cursor);
  }
}
