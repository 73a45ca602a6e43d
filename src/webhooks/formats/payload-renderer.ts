import jsonata from 'jsonata';
import { envelopeForVersion } from '../../events/payload-versions.js';
import {
  EDIFACT_EVENT_TYPES,
  type EdifactOptions,
  edifactOptionsProblems,
  renderEdifactIftsta,
} from './edifact-iftsta.js';
import { evaluateInSandbox, JSONATA_LIMITS } from './jsonata-sandbox.js';
import { renderX12214, X12_EVENT_TYPES, type X12Options, x12OptionsProblems } from './x12-214.js';
import type { ShipmentEnvelope } from './shipment-envelope.js';

export const PAYLOAD_FORMATS = ['envelope', 'jsonata', 'x12-214', 'edifact-iftsta'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** The EDI formats, by name, with the only event types each can carry (`*` on a subscription means these). */
export const EDI_FORMATS: Partial<Record<PayloadFormat, { name: string; eventTypes: string[] }>> = {
  'x12-214': { name: 'X12 214', eventTypes: X12_EVENT_TYPES },
  'edifact-iftsta': { name: 'EDIFACT IFTSTA', eventTypes: EDIFACT_EVENT_TYPES },
};

export interface JsonataOptions {
  expression: string;
  contentType?: string;
}

export type PayloadOptions = JsonataOptions | X12Options | EdifactOptions | null;

/** What rendering may need beyond the envelope: the next EDI control number (previews pass none). */
export interface RenderContext {
  nextControlNumber?: () => Promise<number>;
  now?: Date;
}

export interface RenderedPayload {
  body: string;
  contentType: string;
}

/** A transform that failed: the attempt is recorded as `transform_error` and retried. */
export class TransformError extends Error {}

const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9_-]+=[a-z0-9_.-]+)*$/i;

/** Problems with a subscription's payload settings (empty when they can be saved). */
export function payloadOptionsProblems(
  format: PayloadFormat,
  options: unknown,
): Array<{ field: string; message: string }> {
  if (format === 'envelope') {
    return options === undefined || options === null
      ? []
      : [{ field: 'payloadOptions', message: 'takes no options with the envelope format' }];
  }
  if (format === 'x12-214') return x12OptionsProblems(options);
  if (format === 'edifact-iftsta') return edifactOptionsProblems(options);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [{ field: 'payloadOptions', message: 'must be { expression, contentType? } for the jsonata format' }];
  }
  const { expression, contentType, ...rest } = options as Record<string, unknown>;
  const problems: Array<{ field: string; message: string }> = Object.keys(rest).map((k) => ({
    field: `payloadOptions.${k}`,
    message: 'is not a known field',
  }));
  if (typeof expression !== 'string' || expression.trim() === '' || expression.length > 20_000) {
    problems.push({
      field: 'payloadOptions.expression',
      message: 'must be a JSONata expression of at most 20000 characters',
    });
  } else {
    try {
      jsonata(expression);
    } catch (error) {
      const e = error as { message?: string; position?: number };
      problems.push({
        field: 'payloadOptions.expression',
        message: `does not compile at position ${e.position ?? '?'}: ${e.message ?? String(error)}`,
      });
    }
  }
  if (contentType !== undefined && (typeof contentType !== 'string' || !CONTENT_TYPE.test(contentType))) {
    problems.push({ field: 'payloadOptions.contentType', message: 'must be a media type such as application/json' });
  }
  return problems;
}

/** What a subscription's settings say about its body. */
export interface PayloadSettings {
  /** Whose subscription: the JSONata sandbox shares its processes fairly between tenants. */
  tenantId: string;
  apiVersion: string;
  payloadFormat: PayloadFormat;
  payloadOptions: PayloadOptions;
}

/**
 * The body for one subscription: the event's envelope in the subscription's pinned version,
 * then its format. Pushes, test sends and previews all come through here, so they agree.
 */
export async function renderForSubscription(
  settings: PayloadSettings,
  envelopeJson: string,
  storedVersion: string,
  context: RenderContext = {},
): Promise<RenderedPayload> {
  let envelope: string;
  try {
    envelope = envelopeForVersion(envelopeJson, storedVersion, settings.apiVersion);
  } catch (error) {
    throw new TransformError((error as Error).message);
  }
  return renderPayload(settings.tenantId, settings.payloadFormat, settings.payloadOptions, envelope, context);
}

/**
 * The body a subscription sends for an envelope, rendered once per attempt and signed as it is.
 * `envelope` sends the envelope's bytes unchanged; `jsonata` evaluates the tenant's expression
 * over the envelope in the sandbox (a child process with a heap limit and a deadline), so one bad
 * mapping can neither stall nor crash the service.
 */
export async function renderPayload(
  tenantId: string,
  format: PayloadFormat,
  options: PayloadOptions,
  envelopeJson: string,
  context: RenderContext = {},
): Promise<RenderedPayload> {
  if (format === 'envelope') return { body: envelopeJson, contentType: 'application/json' };
  const edi = EDI_FORMATS[format];
  if (edi) {
    // Checked just below: an EDI format is rendered only from a shipment event's envelope.
    const envelope = JSON.parse(envelopeJson) as ShipmentEnvelope;
    if (!edi.eventTypes.includes(envelope.type))
      throw new TransformError(`${edi.name} carries only ${edi.eventTypes.join(' and ')}, not ${envelope.type}`);
    const controlNumber = context.nextControlNumber ? await context.nextControlNumber() : 0;
    const now = context.now ?? new Date();
    if (format === 'x12-214')
      return {
        body: renderX12214(envelope, options as X12Options, controlNumber, now),
        contentType: 'application/edi-x12',
      };
    return {
      body: renderEdifactIftsta(envelope, options as EdifactOptions, controlNumber, now),
      contentType: 'application/edifact',
    };
  }
  const { expression, contentType } = options as JsonataOptions;
  const result = await evaluateInSandbox(expression, envelopeJson, tenantId);
  if (!result.ok) {
    const detail =
      result.code === 'D1012'
        ? `it ran longer than ${JSONATA_LIMITS.timeoutMs} ms`
        : result.code === 'D1011'
          ? `it nested deeper than ${JSONATA_LIMITS.maxDepth}`
          : result.message;
    const code = result.code && /^[A-Z]\d{4}$/.test(result.code) ? ` (${result.code})` : '';
    throw new TransformError(`the JSONata expression failed${code}: ${detail}`);
  }
  if (result.isText) return { body: result.body, contentType: contentType ?? 'text/plain; charset=utf-8' };
  return { body: result.body, contentType: contentType ?? 'application/json' };
}
