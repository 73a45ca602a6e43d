import { Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { EventsController } from './events.controller.js';
import { EventsService } from './events.service.js';
import { OutboxService } from './outbox.service.js';

@Module({
  imports: [DatabaseModule],
  controllers: [EventsController],
  providers: [OutboxService, EventsService],
  exports: [OutboxService, EventsService, DatabaseModule],
})
export class EventsModule {}
