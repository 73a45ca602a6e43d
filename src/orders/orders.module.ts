import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';
import { OrderStore } from './order.store.js';

@Module({
  imports: [EventsModule],
  controllers: [OrdersController],
  providers: [OrdersService, OrderStore],
  exports: [OrdersService],
})
export class OrdersModule {}
