import { API_VERSION, type Envelope } from './event-types.js';

/**
 * Payload versions, oldest first. Events are stored in the shape of the version current when
 * they were recorded; a subscription pinned to an older version gets them turned back, one
 * version at a time, by each newer version's `toPrevious`. A change to a payload shape adds a
 * version here (with its `toPrevious`) and leaves the older ones rendering as they did.
 */
export interface PayloadVersion {
  version: string;
  /** This version's envelope as the previous version shaped it (absent for the oldest). */
  toPrevious?: (envelope: Envelope) => Envelope;
}

const VERSIONS: PayloadVersion[] = [{ version: API_VERSION }];

export function payloadVersions(): readonly string[] {
  return VERSIONS.map((v) => v.version);
}

export function isPayloadVersion(version: string): boolean {
  return VERSIONS.some((v) => v.version === version);
}

/** Adds a version older than every known one (tests use it to prove pinning; see the README). */
export function registerOlderPayloadVersion(
  version: string,
  currentOldestToIt: (envelope: Envelope) => Envelope,
): void {
  if (isPayloadVersion(version)) return;
  VERSIONS[0] = { ...VERSIONS[0], toPrevious: currentOldestToIt };
  VERSIONS.unshift({ version });
}

/**
 * The envelope text for a subscription pinned to `target`, from an event stored at `stored`.
 * The same version answers the same bytes; an older one is rebuilt by the version steps.
 */
export function envelopeForVersion(envelopeJson: string, stored: string, target: string): string {
  if (stored === target) return envelopeJson;
  const from = VERSIONS.findIndex((v) => v.version === stored);
  const to = VERSIONS.findIndex((v) => v.version === target);
  if (from < 0 || to < 0 || to > from) throw new Error(`cannot render a ${stored} event as ${target}`);
  let envelope = JSON.parse(envelopeJson) as Envelope;
  for (let i = from; i > to; i--)
    envelope = { ...VERSIONS[i].toPrevious!(envelope), apiVersion: VERSIONS[i - 1].version };
  return JSON.stringify(envelope);
}
