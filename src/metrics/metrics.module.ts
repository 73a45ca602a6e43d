import {
  Controller,
  Get,
  Global,
  Header,
  Headers,
  Inject,
  Module,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { safeEqual } from '../tenancy/api-key-secret.js';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MetricsTokenOnly } from '../tenancy/tenant-context.js';
import { ApiAnswer, ApiErrors } from '../common/openapi.js';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly registry: Registry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Only with `Authorization: Bearer $METRICS_TOKEN`: the metrics name every tenant's webhooks. Unset: 404. */
  @Get()
  @MetricsTokenOnly()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics (text format); needs Authorization: Bearer $METRICS_TOKEN' })
  @ApiAnswer(200, 'The metrics', { type: 'string' }, 'text/plain')
  @ApiErrors([401, 'Without Authorization: Bearer $METRICS_TOKEN'], [404, 'METRICS_TOKEN is not set'])
  metrics(@Headers('authorization') authorization: string | undefined): Promise<string> {
    const token = this.config.metricsToken;
    if (!token) throw new NotFoundException('no such resource: /metrics (set METRICS_TOKEN to serve it)');
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!presented || !safeEqual(presented, token))
      throw new UnauthorizedException('/metrics needs Authorization: Bearer <METRICS_TOKEN>');
    return this.registry.metrics();
  }
}

/** One Prometheus registry per app (tests boot several apps in one process). */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [
    {
      provide: Registry,
      useFactory: () => {
        const registry = new Registry();
        collectDefaultMetrics({ register: registry, prefix: 'waybill_' });
        return registry;
      },
    },
  ],
  exports: [Registry],
})
export class MetricsModule {}
