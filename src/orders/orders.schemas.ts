import { component, pageOf, record } from '../common/openapi.js';
import { orderProperties } from '../events/event-schemas.js';

export const ORDER = component(
  'Order',
  record(orderProperties, {
    description: 'An order, as the API answers it and as every order event carries it in data',
  }),
);
export const ORDER_PAGE = pageOf('OrderPage', ORDER);
