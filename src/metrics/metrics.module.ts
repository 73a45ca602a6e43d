import { Controller, Get, Global, Header, Module } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Public } from '../tenancy/tenant-context.js';
import { ApiAnswer } from '../common/openapi.js';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly registry: Registry) {}

  @Get()
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics (text format)' })
  @ApiAnswer(200, 'The metrics', { type: 'string' }, 'text/plain')
  metrics(): Promise<string> {
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
