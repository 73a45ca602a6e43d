import { component, pageOf, record, string } from '../common/openapi.js';
import { envelopeProperties } from './event-schemas.js';
import { API_VERSION, EVENT_TYPES } from './event-types.js';

export const ENVELOPE = component(
  'Envelope',
  record(
    envelopeProperties(
      {
        type: 'object',
        additionalProperties: true,
        description: "The aggregate's snapshot and what changed (see the type's schema)",
      },
      { type: 'string', enum: [...EVENT_TYPES] },
      { ...string, examples: [API_VERSION] },
    ),
    { description: 'The body of every push in the envelope format, and an event of the events API' },
  ),
);
export const ENVELOPE_PAGE = pageOf('EnvelopePage', ENVELOPE);

export const EVENT_TYPE = component(
  'EventType',
  record({
    name: { type: 'string', enum: [...EVENT_TYPES] },
    description: string,
    example: ENVELOPE,
    schema: {
      type: 'object',
      additionalProperties: true,
      description: "JSON Schema (draft 2020-12) of the type's envelope",
    },
  }),
);
export const EVENT_TYPE_PAGE = pageOf('EventTypePage', EVENT_TYPE);

export const EVENT_SCHEMA = component('EventSchema', {
  type: 'object',
  additionalProperties: true,
  description: "JSON Schema (draft 2020-12) of the type's envelope",
});
