import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { EVENT_SCHEMAS } from '../../src/events/event-schemas.js';
import { type EventType, isEventType } from '../../src/events/event-types.js';

const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validators = new Map(Object.entries(EVENT_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]));

/** Problems with an envelope against its type's published schema (empty when it conforms). */
export function envelopeProblems(envelope: unknown): string[] {
  const type = (envelope as { type?: unknown })?.type;
  if (typeof type !== 'string' || !isEventType(type)) return [`unknown event type ${String(type)}`];
  const validate = validators.get(type as EventType)!;
  if (validate(envelope)) return [];
  return (validate.errors ?? []).map((e) => `${type}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
