import { component, dateTime, nullable, pageOf, record, string, uuid } from '../../common/openapi.js';
import { ENVELOPE } from '../../events/events.schemas.js';

export const FEED_TOKEN = component(
  'FeedToken',
  record({
    id: uuid,
    webhookId: uuid,
    token: { ...string, description: 'Shown once' },
    feedUrl: { type: 'string', format: 'uri' },
    createdAt: dateTime,
    expiresAt: { ...nullable(dateTime), description: 'null: until revoked' },
  }),
);

export const FEED_TOKEN_INFO = component(
  'FeedTokenInfo',
  record(
    {
      id: uuid,
      webhookId: uuid,
      prefix: { ...string, description: 'The first characters of the token, to tell tokens apart' },
      apiKeyId: { ...uuid, description: 'The API key that minted it (the token dies with it)' },
      createdAt: dateTime,
      expiresAt: nullable(dateTime),
      lastUsedAt: nullable(dateTime),
    },
    { description: 'A feed token, never its value' },
  ),
);
export const FEED_TOKEN_PAGE = pageOf('FeedTokenPage', FEED_TOKEN_INFO);

const FEED_ITEM = component(
  'FeedItem',
  record(
    {
      id: string,
      type: string,
      contentType: nullable(string),
      body: { ...nullable(string), description: 'The rendered body; null when the transform failed' },
      transformError: string,
    },
    { optional: ['transformError'], description: 'An event in a non-envelope format' },
  ),
);

export const FEED_PAGE = component(
  'FeedPage',
  record({
    data: { type: 'array', items: { anyOf: [ENVELOPE, FEED_ITEM] } },
    nextCursor: { ...string, description: 'The position after the last item, or the acknowledged one; what ack takes' },
  }),
);

export const FEED_ACK = component('FeedAck', record({ acknowledged: { type: 'integer', minimum: 0 }, cursor: string }));
