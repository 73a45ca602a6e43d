import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { CurrentTenant, FeedAccess, type TenantContext } from '../../tenancy/tenant-context.js';
import { FeedAckDto, FeedQuery } from '../subscriptions/webhooks.dto.js';
import { FeedService } from './feed.service.js';
import { ApiAnswer, ApiErrors } from '../../common/openapi.js';
import { FEED_ACK, FEED_PAGE } from './feed.schemas.js';

@ApiTags('feeds')
@FeedAccess()
@Controller('v1/feeds')
export class FeedController {
  constructor(private readonly feeds: FeedService) {}

  @Get(':webhookId')
  @ApiOperation({
    summary:
      'Read a pull feed: what waits after the cursor (default: from the oldest unacknowledged); wait= long-polls',
  })
  @ApiAnswer(200, 'What waits after the cursor', FEED_PAGE)
  @ApiErrors([409, 'The subscription is pushed to, not a feed'])
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
  @ApiAnswer(200, 'How many were acknowledged', FEED_ACK)
  @ApiErrors([409, 'The subscription is pushed to, not a feed'])
  ack(
    @CurrentTenant() caller: TenantContext,
    @Param('webhookId', ParseIdPipe) webhookId: string,
    @Body() body: FeedAckDto,
  ) {
    return this.feeds.ack(caller, webhookId, body.cursor);
  }
}
