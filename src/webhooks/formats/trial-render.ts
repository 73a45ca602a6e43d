import { catalogEntry } from '../../events/event-catalog.js';
import { DOMAIN_EVENT_TYPES, type EventType } from '../../events/event-types.js';
import { type PayloadSettings, renderForSubscription, TransformError } from './payload-renderer.js';

/**
 * A JSONata mapping is tried on save against the catalog example of every type the subscription
 * receives (`*` means the domain types): one that fails, or hits a sandbox limit, is refused then
 * instead of failing every push later. Answers the first problem, or null.
 */
export async function trialRenderProblem(settings: PayloadSettings, eventTypes: string[]): Promise<string | null> {
  if (settings.payloadFormat !== 'jsonata') return null;
  const types = new Set<string>(eventTypes.includes('*') ? DOMAIN_EVENT_TYPES : []);
  for (const type of eventTypes) if (type !== '*') types.add(type);
  for (const type of types) {
    const example = catalogEntry(type as EventType)?.example;
    if (!example) continue;
    try {
      await renderForSubscription(settings, JSON.stringify(example), example.apiVersion);
    } catch (error) {
      if (error instanceof TransformError) return `fails on the ${type} example: ${error.message}`;
      throw error;
    }
  }
  return null;
}
