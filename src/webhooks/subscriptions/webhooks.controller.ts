import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { ExpensiveRoute } from '../../common/throttling.js';
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
import { ApiAnswer, ApiErrors } from '../../common/openapi.js';
import { REPLAYED, TEST_ATTEMPT } from '../deliveries/deliveries.schemas.js';
import { FEED_TOKEN, FEED_TOKEN_PAGE } from '../feed/feed.schemas.js';
import {
  CONNECTION_CHECK,
  PREVIEW,
  SIGNING_SECRET,
  WEBHOOK,
  WEBHOOK_CREATED,
  WEBHOOK_PAGE,
} from './webhooks.schemas.js';

@ApiTags('webhooks')
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
  @ExpensiveRoute()
  @PortalRule('preview')
  @HttpCode(200)
  @ApiOperation({ summary: 'The exact body, content type and headers a draft subscription would send for an event' })
  @ApiBody({ type: DraftPreviewDto, required: false })
  @ApiAnswer(200, 'The preview', PREVIEW)
  @ApiErrors([404, 'No such event (eventId)'])
  previewDraft(@CurrentTenant() tenant: TenantContext, @Body() body: DraftPreviewDto) {
    return this.previews.forDraft(tenant.tenantId, body, body);
  }

  @Post()
  @ApiOperation({ summary: 'Create a subscription; the answer carries its signing secret' })
  @ApiAnswer(201, 'The subscription with its secret', WEBHOOK_CREATED)
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateWebhookDto) {
    return this.webhooks.create(tenant.tenantId, body);
  }

  @Get()
  @ApiOperation({ summary: 'Subscriptions, newest first' })
  @ApiAnswer(200, 'A page of subscriptions', WEBHOOK_PAGE)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListWebhooksQuery) {
    return this.webhooks.list(tenant.tenantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A subscription' })
  @ApiAnswer(200, 'The subscription', WEBHOOK)
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.webhooks.get(tenant.tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change settings; { paused } pauses and resumes; { status: "healthy" } re-enables a disabled one',
  })
  @ApiAnswer(200, 'The subscription', WEBHOOK)
  update(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: UpdateWebhookDto) {
    return this.webhooks.update(tenant.tenantId, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete; pending deliveries are discarded, the audit stays until retention' })
  @ApiAnswer(204, 'Deleted')
  async remove(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string): Promise<void> {
    await this.webhooks.remove(tenant.tenantId, id);
  }

  @Get(':id/secret')
  @PortalRule('secret')
  @ApiOperation({ summary: 'Reveal the signing secret' })
  @ApiAnswer(200, 'The current secret', SIGNING_SECRET)
  secret(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.webhooks.secret(tenant.tenantId, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'New signing secret; the old one signs beside it for 24 h unless expireOldNow' })
  @ApiBody({ type: RotateSecretDto, required: false })
  @ApiAnswer(200, 'The new secret', SIGNING_SECRET)
  rotate(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: RotateSecretDto) {
    return this.webhooks.rotateSecret(tenant.tenantId, id, body.expireOldNow ?? false);
  }

  @Post(':id/test')
  @ExpensiveRoute()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send webhook.test (or the example of eventType) now; answers the attempt, even when it failed',
  })
  @ApiBody({ type: TestWebhookDto, required: false })
  @ApiAnswer(200, 'The attempt (also when the receiver failed)', TEST_ATTEMPT)
  @ApiErrors([409, 'A pull subscription is read, not pushed to'])
  test(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: TestWebhookDto) {
    return this.tests.send(tenant.tenantId, id, body.eventType);
  }

  @Post(':id/preview')
  @ExpensiveRoute()
  @PortalRule('preview')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The exact body, content type and signed headers this subscription would send for an event',
  })
  @ApiBody({ type: PreviewSourceDto, required: false })
  @ApiAnswer(200, 'The preview', PREVIEW)
  preview(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: PreviewSourceDto,
  ) {
    return this.previews.forSubscription(tenant.tenantId, id, body);
  }

  @Post(':id/check')
  @ExpensiveRoute()
  @PortalRule('reads')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Connection check without sending an event: resolve, guard, connect, tls (https), token (OAuth2)',
  })
  @ApiAnswer(200, 'Each step with its outcome', CONNECTION_CHECK)
  @ApiErrors([409, 'A pull subscription has no endpoint to check'])
  check(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.checks.check(tenant.tenantId, id);
  }

  @Post(':id/feed-token')
  @PortalRule('never')
  @ApiOperation({
    summary:
      'A token that reads and acknowledges this pull feed only; shown once; belongs to the API key that minted it',
  })
  @ApiBody({ type: MintFeedTokenDto, required: false })
  @ApiAnswer(201, 'The token', FEED_TOKEN)
  @ApiErrors([409, 'The subscription is pushed to, not a feed'])
  feedToken(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: MintFeedTokenDto,
  ) {
    return this.feeds.issueToken(tenant, id, body.ttlSeconds ?? null);
  }

  @Get(':id/feed-tokens')
  @ApiOperation({ summary: "This feed's live tokens (never their values)" })
  @ApiAnswer(200, 'The tokens', FEED_TOKEN_PAGE)
  feedTokens(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.feeds.listTokens(tenant.tenantId, id);
  }

  @Delete(':id/feed-tokens/:tokenId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a feed token at once' })
  @ApiAnswer(204, 'Revoked: the token answers 401 from now on')
  async revokeFeedToken(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Param('tokenId', ParseIdPipe) tokenId: string,
  ): Promise<void> {
    await this.feeds.revokeToken(tenant.tenantId, id, tokenId);
  }

  @Post(':id/replay')
  @ExpensiveRoute()
  @HttpCode(202)
  @ApiOperation({ summary: "Re-queue this subscription's failed deliveries created since a time" })
  @ApiAnswer(202, 'How many were re-queued', REPLAYED)
  @ApiErrors([409, 'A pull subscription is read again until acknowledged, not replayed'])
  replay(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string, @Body() body: ReplayDto) {
    return this.deliveries.replay(tenant.tenantId, id, body.since, body.until);
  }
}
