import { useEffect, useRef, useState } from 'preact/hooks';
import { call, client, type Attempt, type Delivery } from './api';
import { Alert, describeError, formatTime, Loading, prettyBody, StatusText } from './ui';

const SETTLED = new Set(['delivered', 'failed', 'superseded', 'discarded']);

export function DeliveryPage({ id, readOnly }: { id: string; readOnly: boolean }) {
  const [delivery, setDelivery] = useState<Delivery | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const polls = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const gone = useRef(false);

  const load = async (): Promise<Delivery | null> => {
    try {
      const answer = await call(client.GET('/v1/deliveries/{id}', { params: { path: { id } } }));
      setDelivery(answer);
      setError(null);
      return answer;
    } catch (failure) {
      setError(describeError(failure));
      return null;
    }
  };
  /** After a redeliver: re-read every second until the delivery settles (at most a minute). */
  const poll = () => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(async () => {
      const answer = await load();
      if (!gone.current && answer && !SETTLED.has(answer.status) && ++polls.current < 60) poll();
    }, 1000);
  };
  useEffect(() => {
    gone.current = false;
    void load();
    return () => {
      gone.current = true;
      window.clearTimeout(timer.current);
    };
  }, [id]);

  const redeliver = async () => {
    try {
      await call(client.POST('/v1/deliveries/{id}/redeliver', { params: { path: { id } } }));
      setNote('Queued for delivery again; this page updates when it settles.');
      polls.current = 0;
      await load();
      poll();
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  if (!delivery) return error ? <Alert>{error}</Alert> : <Loading what="the delivery" />;
  const attempts = [...(delivery.attempts ?? [])].sort(
    (a, b) => b.number - a.number || b.startedAt.localeCompare(a.startedAt),
  );

  return (
    <section class="stack" aria-labelledby="delivery-heading">
      <p>
        <a href={`#/endpoints/${delivery.webhookId}`}>← Back to the endpoint</a>
      </p>
      <h1 id="delivery-heading">Delivery</h1>
      <dl class="facts">
        <dt>Event type</dt>
        <dd>{delivery.eventType}</dd>
        <dt>Status</dt>
        <dd data-testid="delivery-status">
          <StatusText status={delivery.status} />
        </dd>
        <dt>Event id</dt>
        <dd class="break">{delivery.eventId}</dd>
        <dt>Delivery id</dt>
        <dd class="break">{delivery.id}</dd>
        {delivery.lastReason ? (
          <>
            <dt>Last reason</dt>
            <dd class="break">{delivery.lastReason}</dd>
          </>
        ) : null}
        {delivery.nextAttemptAt && !SETTLED.has(delivery.status) ? (
          <>
            <dt>Next attempt</dt>
            <dd>{formatTime(delivery.nextAttemptAt)}</dd>
          </>
        ) : null}
      </dl>
      {error ? <Alert>{error}</Alert> : null}
      <div class="toolbar">
        {readOnly ? null : (
          <button type="button" onClick={() => void redeliver()}>
            Redeliver
          </button>
        )}
        <button type="button" class="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {note ? <p role="status">{note}</p> : null}
      <h2>Attempts ({attempts.length})</h2>
      {attempts.length === 0 ? <p>No attempt yet.</p> : null}
      {attempts.map((attempt) => (
        <AttemptView key={`${attempt.number}-${attempt.startedAt}`} attempt={attempt} />
      ))}
    </section>
  );
}

function AttemptView({ attempt }: { attempt: Attempt }) {
  const id = `attempt-${attempt.number}-${attempt.startedAt}`.replace(/[^a-zA-Z0-9-]/g, '');
  const headers = (h: Record<string, string> | null) =>
    h && Object.keys(h).length
      ? Object.entries(h)
          .map(([name, value]) => `${name}: ${value}`)
          .join('\n')
      : '(none)';
  return (
    <article class="card attempt" aria-labelledby={id}>
      <h3 id={id}>Attempt {attempt.number}</h3>
      <p>
        {formatTime(attempt.startedAt)} · {attempt.trigger} ·{' '}
        {attempt.responseStatus !== null ? `HTTP ${attempt.responseStatus}` : 'no response'}
        {attempt.errorClass ? ` · ${attempt.errorClass}` : ''}
        {attempt.durationMs !== null ? ` · ${attempt.durationMs} ms` : ''}
      </p>
      {attempt.reason ? (
        <p class="reason" data-testid="attempt-reason">
          <strong>Reason:</strong> <span class="break">{attempt.reason}</span>
        </p>
      ) : null}
      {attempt.errorMessage && attempt.errorMessage !== attempt.reason && attempt.errorClass !== 'http_status' ? (
        <p>{attempt.errorMessage}</p>
      ) : null}
      <p class="break muted">{attempt.url}</p>
      <h4>Response body</h4>
      <pre class="code" tabIndex={0}>
        {prettyBody(attempt.responseBody)}
      </pre>
      <details>
        <summary>Response headers</summary>
        <pre class="code" tabIndex={0}>
          {headers(attempt.responseHeaders)}
        </pre>
      </details>
      <h4>Request headers</h4>
      <pre class="code" tabIndex={0}>
        {headers(attempt.requestHeaders)}
      </pre>
      <h4>Request body</h4>
      <pre class="code" tabIndex={0}>
        {prettyBody(attempt.requestBody)}
      </pre>
    </article>
  );
}
