import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '../tenancy/tenant-context.js';
import { ApiAnswer, ApiErrors, component, record } from '../common/openapi.js';

const HEALTH = component(
  'Health',
  record({ status: { type: 'string', const: 'ok' }, database: { type: 'string', const: 'up' } }),
);

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness and database: 200 when ready, 503 otherwise' })
  @ApiAnswer(200, 'Ready', HEALTH)
  @ApiErrors([503, 'The database does not answer'])
  async health() {
    try {
      await this.dataSource.query('SELECT 1');
    } catch {
      throw new ServiceUnavailableException('database unavailable');
    }
    return { status: 'ok', database: 'up' };
  }
}
