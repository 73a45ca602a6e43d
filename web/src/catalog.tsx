import { useEffect, useState } from 'preact/hooks';
import { call, client, type EventType } from './api';
import { Alert, CopyButton, describeError, Loading } from './ui';

let cached: Promise<EventType[]> | null = null;

/** The event catalog, fetched once per page (a failed fetch is tried again next time). */
function loadCatalog(): Promise<EventType[]> {
  const loading = (cached ??= call(client.GET('/v1/event-types')).then((answer) => answer.data));
  loading.catch(() => {
    cached = null;
  });
  return loading;
}

export function useCatalog(): EventType[] | null {
  const [types, setTypes] = useState<EventType[] | null>(null);
  useEffect(() => {
    loadCatalog().then(setTypes, () => undefined);
  }, []);
  return types;
}

const SNIPPET = `// npm install standardwebhooks
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

// The endpoint's signing secret (whsec_…), from the Integrations settings.
const webhook = new Webhook(process.env.WAYBILL_SECRET);

http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    try {
      // Checks webhook-id, webhook-timestamp (5 min tolerance) and webhook-signature
      // against the raw body, exactly as received.
      webhook.verify(body, req.headers);
    } catch {
      res.writeHead(401).end();
      return;
    }
    const event = req.headers['content-type']?.startsWith('application/json') ? JSON.parse(body) : body;
    // Deduplicate on the webhook-id header: a retry carries the same one.
    console.log(req.headers['webhook-id'], event.type ?? '');
    res.writeHead(204).end();
  });
}).listen(8080);
`;

export function Catalog() {
  const [types, setTypes] = useState<EventType[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadCatalog().then(setTypes, (failure) => setError(describeError(failure)));
  }, []);

  return (
    <section aria-labelledby="catalog-heading">
      <h1 id="catalog-heading">Event catalog</h1>
      <p class="muted">
        Every event type Waybill sends, with an example of its envelope. Each push is signed following the Standard
        Webhooks specification: headers <code>webhook-id</code>, <code>webhook-timestamp</code> and{' '}
        <code>webhook-signature</code>.
      </p>
      <h2 id="snippet-heading">Verify a push in Node</h2>
      <pre class="code" tabIndex={0} aria-labelledby="snippet-heading">
        {SNIPPET}
      </pre>
      <CopyButton text={SNIPPET} label="Copy snippet" />
      {error ? <Alert>{error}</Alert> : null}
      {types === null && !error ? <Loading what="the catalog" /> : null}
      {(types ?? []).map((type) => {
        const example = JSON.stringify(type.example, null, 2);
        const id = `type-${type.name.replace(/\./g, '-')}`;
        return (
          <article key={type.name} class="card" aria-labelledby={id}>
            <h2 id={id}>{type.name}</h2>
            <p>{type.description}</p>
            <details>
              <summary>Example payload</summary>
              <pre class="code" tabIndex={0} aria-label={`Example ${type.name}`}>
                {example}
              </pre>
            </details>
            <CopyButton text={example} label="Copy example" />
          </article>
        );
      })}
    </section>
  );
}
