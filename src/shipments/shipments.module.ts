import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EventsModule } from '../events/events.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { Shipment } from './shipment.entity.js';
import { ShipmentsController } from './shipments.controller.js';
import { ShipmentsService } from './shipments.service.js';
import { ShipmentStore } from './shipment.store.js';
import { TrackingEvent } from './tracking-event.entity.js';

@Module({
  imports: [EventsModule, OrdersModule, TypeOrmModule.forFeature([Shipment, TrackingEvent])],
  controllers: [ShipmentsController],
  providers: [ShipmentsService, ShipmentStore],
})
export class ShipmentsModule {}
