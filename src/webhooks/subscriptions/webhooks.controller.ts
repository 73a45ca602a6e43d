import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { CurrentTenant, PortalRule, type TenantContext } from '../../tenancy/tenant-context.js';
import { DeliveriesService } from '../deliveries/deliveries.service.js';
import { PreviewService } from '../formats/preview.service.js';
import { TestSender } from '../engine/test-sender.js';
import {
  CreateWebhookDto,
  DraftPreviewDto,
  MintFeedTokenDto,
  ListWebhooksQuery,
  PreviewSourceDto,
  ReplayDto,
  RotateSecretDto,
  TestWebhookDto,
  UpdateWebhookDto,
} from './webhooks.dto.js';
import { WebhooksService } from './webhooks.service.js';
import { FeedService } from '../feed/feed.service.js';
import { ConnectionCheck } from '../transport/connection-check.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
@PortalRule('screen')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly tests: TestSender,
    private readonly deliveries: DeliveriesService,
    private readonly previews: PreviewService,
    private readonly feeds: FeedService,
    private readonly checks: ConnectionCheck,
  ) {}

  @Post('preview')
  @PortalRule('preview')
  @HttpCode(200)
  @ApiOperation({ summary: 'The exact body, content type and headers a draft subscription would send for an event' })
  previewDraft(@CurrentTenant() tenant: TenantContext, @Body() body: DraftPreviewDto) {
    return this.previews.forDraft(tenant.tenantId, body, body);
  }

  @Post()
  @ApiOperation({ summary: 'Create a subscription; the answer carries its signing secret' })
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateWebhookDto) {
    return this.webhooks.create(tenant.tenantId, body);
  }

  @Get()
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListWebhooksQuery) {
    return this.webhooks.list(tenant.tenantId, query);
  }

  @Get(':id')
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.webhooks.get(tenant.tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change settings; { paused } pauses and resumes; { status: "healthy" } re-enables a disabled one',
  })
  update(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: UpdateWebhookDto) {
    return this.webhooks.update(tenant.tenantId, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete; pending deliveries are discarded, the audit stays until retention' })
  async remove(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.webhooks.remove(tenant.tenantId, id);
  }

  @Get(':id/secret')
  @PortalRule('secret')
  @ApiOperation({ summary: 'Reveal the signing secret' })
  secret(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.webhooks.secret(tenant.tenantId, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'New signing secret; the old one signs beside it for 24 h unless expireOldNow' })
  rotate(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: RotateSecretDto) {
    return this.webhooks.rotateSecret(tenant.tenantId, id, body.expireOldNow ?? false);
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send webhook.test (or the example of eventType) now; answers the attempt, even when it failed',
  })
  test(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: TestWebhookDto) {
    return this.tests.send(tenant.tenantId, id, body.eventType);
  }

  @Post(':id/preview')
  @PortalRule('preview')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The exact body, content type and signed headers this subscription would send for an event',
  })
  preview(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: PreviewSourceDto,
  ) {
    return this.previews.forSubscription(tenant.tenantId, id, body);
  }

  @Post(':id/check')
  @PortalRule('reads')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Connection check without sending an event: resolve, guard, connect, tls (https), token (OAuth2)',
  })
  check(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.checks.check(tenant.tenantId, id);
  }

  @Post(':id/feed-token')
  @PortalRule('never')
  @ApiOperation({
    summary:
      'A token that reads and acknowledges this pull feed only; shown once; belongs to the API key that minted it',
  })
  feedToken(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: MintFeedTokenDto,
  ) {
    return this.feeds.issueToken(tenant, id, body.ttlSeconds ?? null);
  }

  @Get(':id/feed-tokens')
  @ApiOperation({ summary: "This feed's live tokens (never their values)" })
  feedTokens(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.feeds.listTokens(tenant.tenantId, id);
  }

  @Delete(':id/feed-tokens/:tokenId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a feed token at once' })
  async revokeFeedToken(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Param('tokenId', ParseIdPipe) tokenId: string,
  ): Promise<void> {
    await this.feeds.revokeToken(tenant.tenantId, id, tokenId);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: "Re-queue this subscription's failed deliveries created since a time" })
  replay(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: ReplayDto) {
    return this.deliveries.replay(tenant.tenantId, id, body.since, body.until);
  }
}
