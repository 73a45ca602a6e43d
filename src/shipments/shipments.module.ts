import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { ShipmentsController } from './shipments.controller.js';
import { ShipmentsService } from './shipments.service.js';
import { ShipmentStore } from './shipment.store.js';

@Module({
  imports: [EventsModule, OrdersModule],
  controllers: [ShipmentsController],
  providers: [ShipmentsService, ShipmentStore],
})
export class ShipmentsModule {}
