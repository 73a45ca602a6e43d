import { useEffect, useRef, useState } from 'preact/hooks';
import {
  call,
  client,
  type Attempt,
  type Delivery,
  type DeliveryEventType,
  type DeliveryStatus,
  type FeedToken,
  type Page,
  type TestEventType,
  type Webhook,
} from './api';
import { navigate } from './navigation';
import { useCatalog } from './catalog';
import {
  Alert,
  CopyButton,
  describeError,
  EnabledSwitch,
  formatTime,
  HealthBadge,
  useLiveRefresh,
  HealthBanner,
  Loading,
  prettyBody,
  StatusText,
} from './ui';

interface Props {
  id: string;
  readOnly: boolean;
  /** The secret from the create answer: shown this once. */
  secretOnce: string | null;
  forgetSecret: () => void;
  /** Open the delivery log filtered to this status (the banner's "failed deliveries" link). */
  logStatus?: string;
}

export function EndpointDetail({ id, readOnly, secretOnce, forgetSecret, logStatus }: Props) {
  const [webhook, setWebhook] = useState<Webhook | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  /** Bumped by a test send, so the delivery log shows it. */
  const [sent, setSent] = useState(0);

  const load = () =>
    call(client.GET('/v1/webhooks/{id}', { params: { path: { id } } }))
      .then((w) => {
        setWebhook(w);
        setError(null);
      })
      .catch((failure) => setError(describeError(failure)));
  useEffect(() => {
    void load();
  }, [id]);
  // The badge and banner follow the endpoint's health while the page is open.
  useLiveRefresh(load);

  const patch = async (body: Record<string, unknown>, done: string) => {
    try {
      setWebhook(await call(client.PATCH('/v1/webhooks/{id}', { params: { path: { id } }, body })));
      setMessage(done);
      setError(null);
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  const remove = async () => {
    try {
      await call(client.DELETE('/v1/webhooks/{id}', { params: { path: { id } } }));
      navigate('#/endpoints');
    } catch (failure) {
      setError(describeError(failure));
    }
  };

  if (!webhook) return error ? <Alert>{error}</Alert> : <Loading what="the endpoint" />;
  const pull = webhook.deliveryMode === 'pull';

  return (
    <article class="stack" aria-labelledby="endpoint-heading">
      <p>
        <a href="#/endpoints">← All endpoints</a>
      </p>
      <div class="page-head">
        <h1 id="endpoint-heading">{webhook.name}</h1>
        <HealthBadge webhook={webhook} />
      </div>
      {webhook.enabled ? <HealthBanner webhook={webhook} /> : null}
      <dl class="facts">
        <dt>URL</dt>
        <dd class="break">{webhook.url ?? '—'}</dd>
        <dt>Delivery</dt>
        <dd>{pull ? 'Pull feed' : 'Push'}</dd>
        <dt>Event types</dt>
        <dd class="break">{webhook.eventTypes.join(', ')}</dd>
        <dt>Payload format</dt>
        <dd>{webhook.payloadFormat}</dd>
        <dt>Receiver authentication</dt>
        <dd>
          {webhook.auth.type}
          {webhook.tls ? ' + client certificate' : ''}
        </dd>
        <dt>Last success</dt>
        <dd>{formatTime(webhook.lastSuccessAt)}</dd>
        <dt>Last failure</dt>
        <dd>{formatTime(webhook.lastFailureAt)}</dd>
        {webhook.status === 'disabled' ? (
          <>
            <dt>Disabled because</dt>
            <dd>{webhook.disabledReason ?? '—'}</dd>
          </>
        ) : null}
        {webhook.permanentStatuses?.length ? (
          <>
            <dt>Fail at once on</dt>
            <dd>{webhook.permanentStatuses.map((s) => `HTTP ${s}`).join(', ')}</dd>
          </>
        ) : null}
        {webhook.maintenanceWindows?.length ? (
          <>
            <dt>Maintenance windows</dt>
            <dd>
              {webhook.maintenanceWindows
                .map((w) => `${w.days.join(', ')} ${w.start}–${w.end} (${w.timeZone})`)
                .join('; ')}
            </dd>
            <dt>{webhook.inMaintenance ? 'In a maintenance window' : 'Next maintenance window'}</dt>
            <dd data-testid="next-maintenance-window">
              {webhook.nextMaintenanceWindow
                ? webhook.inMaintenance
                  ? `until ${formatTime(webhook.nextMaintenanceWindow.endsAt)}: pushes are held`
                  : `${formatTime(webhook.nextMaintenanceWindow.startsAt)} to ${formatTime(webhook.nextMaintenanceWindow.endsAt)}`
                : '—'}
            </dd>
          </>
        ) : null}
      </dl>
      {error ? <Alert>{error}</Alert> : null}
      {message ? <Alert kind="success">{message}</Alert> : null}

      <div class="toolbar">
        <EnabledSwitch
          enabled={webhook.enabled}
          disabled={readOnly}
          visibleLabel="Enabled"
          onToggle={(enabled) =>
            void patch(
              { enabled },
              enabled
                ? 'Enabled: new events are delivered again.'
                : 'Disabled: no deliveries are created for new events.',
            )
          }
        />
        {readOnly ? null : (
          <>
            {webhook.status === 'disabled' ? (
              <button
                type="button"
                onClick={() => void patch({ status: 'healthy' }, 'Re-enabled: held deliveries are being sent.')}
              >
                Re-enable and send held deliveries
              </button>
            ) : null}
            <button
              type="button"
              class="secondary"
              onClick={() =>
                void patch(
                  { paused: !webhook.paused },
                  webhook.paused
                    ? 'Resumed: held deliveries go out oldest first.'
                    : 'Paused: deliveries are held until you resume.',
                )
              }
            >
              {webhook.paused ? 'Resume' : 'Pause'}
            </button>
            <a class="button secondary" href={`#/endpoints/${id}/edit`}>
              Edit
            </a>
            {confirmDelete ? (
              <span class="confirm">
                <span>Delete {webhook.name}? Pending deliveries are dropped.</span>
                <button type="button" class="danger" onClick={() => void remove()}>
                  Yes, delete
                </button>
                <button type="button" class="secondary" onClick={() => setConfirmDelete(false)}>
                  Keep it
                </button>
              </span>
            ) : (
              <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
                Delete endpoint
              </button>
            )}
          </>
        )}
      </div>

      <SigningSecret id={id} readOnly={readOnly} secretOnce={secretOnce} forgetSecret={forgetSecret} />
      {pull ? (
        <FeedAccess id={id} readOnly={readOnly} />
      ) : (
        <TestSend
          id={id}
          readOnly={readOnly}
          onSent={() => {
            void load();
            setSent((n) => n + 1);
          }}
        />
      )}
      {pull ? null : <ConnectionCheck id={id} />}
      <DeliveryLog webhook={webhook} readOnly={readOnly} refresh={sent} initialStatus={logStatus} />
    </article>
  );
}

function SigningSecret({
  id,
  readOnly,
  secretOnce,
  forgetSecret,
}: {
  id: string;
  readOnly: boolean;
  secretOnce: string | null;
  forgetSecret: () => void;
}) {
  const [secret, setSecret] = useState<string | null>(secretOnce);
  const [note, setNote] = useState<string | null>(
    secretOnce
      ? 'This is the signing secret of the new endpoint: copy it now and give it to the ERP. It is not shown again here unless you reveal it.'
      : null,
  );
  const [expireOldNow, setExpireOldNow] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const reveal = async () => {
    try {
      setSecret((await call(client.GET('/v1/webhooks/{id}/secret', { params: { path: { id } } }))).secret);
      setNote(null);
      setError(null);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  const rotate = async () => {
    try {
      const answer = await call(
        client.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id } }, body: { expireOldNow } }),
      );
      setSecret(answer.secret);
      setNote(
        expireOldNow
          ? 'New secret in use; the old one stopped working now. Give the new one to the ERP at once.'
          : 'New secret in use. For the next 24 hours every push is signed with both the new and the old secret, so the ERP can switch over without missing one.',
      );
      setError(null);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  const hide = () => {
    setSecret(null);
    setNote(null);
    forgetSecret();
  };

  return (
    <section aria-labelledby="secret-heading" class="card">
      <h2 id="secret-heading">Signing secret</h2>
      <p class="muted">
        The ERP checks each push's <code>webhook-signature</code> with this secret (see the Event catalog for a
        snippet).
      </p>
      {secret ? (
        <div class="secret" role="status">
          {note ? <p>{note}</p> : null}
          <code data-testid="secret" class="break">
            {secret}
          </code>
          <div class="toolbar">
            <CopyButton text={secret} label="Copy secret" />
            <button type="button" class="secondary" onClick={hide}>
              Hide secret
            </button>
          </div>
        </div>
      ) : null}
      {error ? <Alert>{error}</Alert> : null}
      {readOnly ? (
        <p class="muted">A read-only session cannot see or rotate the secret.</p>
      ) : (
        <div class="stack">
          {secret ? null : (
            <div>
              <button type="button" class="secondary" onClick={() => void reveal()}>
                Reveal secret
              </button>
            </div>
          )}
          <p class="hint" id="rotate-hint">
            Rotating makes a new secret. The old one stays valid for 24 hours (pushes carry both signatures), unless you
            expire it now, for example because it leaked.
          </p>
          <div class="toolbar">
            <label class="check">
              <input
                type="checkbox"
                checked={expireOldNow}
                onChange={(e) => setExpireOldNow(e.currentTarget.checked)}
              />{' '}
              Expire the old secret now
            </label>
            <button type="button" class="secondary" aria-describedby="rotate-hint" onClick={() => void rotate()}>
              Rotate secret
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

function TestSend({ id, readOnly, onSent }: { id: string; readOnly: boolean; onSent: () => void }) {
  const catalog = useCatalog();
  const [type, setType] = useState('webhook.test');
  const [result, setResult] = useState<Attempt | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(
        await call(
          client.POST('/v1/webhooks/{id}/test', {
            params: { path: { id } },
            body: type === 'webhook.test' ? {} : { eventType: type as TestEventType },
          }),
        ),
      );
      onSent();
    } catch (failure) {
      setResult(null);
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  const delivered = result
    ? result.responseStatus !== null &&
      result.responseStatus >= 200 &&
      result.responseStatus < 300 &&
      !result.errorClass
    : false;

  return (
    <section aria-labelledby="test-heading" class="card">
      <h2 id="test-heading">Send a test event</h2>
      <p class="muted">Sent now, even to a paused or disabled endpoint; it does not count toward health.</p>
      <div class="toolbar">
        <div class="field">
          <label for="test-type">Test event type</label>
          <select id="test-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="webhook.test">webhook.test</option>
            {(catalog ?? [])
              .filter((t) => t.name !== 'webhook.test')
              .map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name} (example)
                </option>
              ))}
          </select>
        </div>
        <button type="button" disabled={readOnly || busy} onClick={() => void send()}>
          {busy ? 'Sending…' : 'Send test event'}
        </button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
      <div aria-live="polite">
        {result ? (
          <div data-testid="test-result" class={`result ${delivered ? 'ok' : 'bad'}`}>
            <p>
              <strong>{delivered ? 'Delivered' : 'Failed'}</strong> ·{' '}
              {result.responseStatus !== null ? `HTTP ${result.responseStatus}` : 'no response'}
              {result.errorClass ? ` · ${result.errorClass}` : ''}
              {result.durationMs !== null ? ` · ${result.durationMs} ms` : ''}
            </p>
            {result.errorMessage ? <p>{result.errorMessage}</p> : null}
            <h3>Response body</h3>
            <pre class="code" tabIndex={0}>
              {prettyBody(result.responseBody)}
            </pre>
          </div>
        ) : null}
      </div>
    </section>
  );
}

function ConnectionCheck({ id }: { id: string }) {
  const [result, setResult] = useState<{
    ok: boolean;
    steps: Array<{ name: string; ok: boolean; error?: string }>;
  } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await call(client.POST('/v1/webhooks/{id}/check', { params: { path: { id } } })));
    } catch (failure) {
      setResult(null);
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="check-heading" class="card">
      <h2 id="check-heading">Connection check</h2>
      <p class="muted">
        Resolves the host, connects, checks TLS and fetches an OAuth token if configured. It sends no event.
      </p>
      <button type="button" class="secondary" disabled={busy} onClick={() => void check()}>
        {busy ? 'Checking…' : 'Check connection'}
      </button>
      {error ? <Alert>{error}</Alert> : null}
      <div aria-live="polite">
        {result ? (
          <ul class="steps" data-testid="check-result">
            {result.steps.map((step) => (
              <li key={step.name} class={step.ok ? 'ok' : 'bad'}>
                <span aria-hidden="true">{step.ok ? '✓' : '✗'}</span> {step.name}:{' '}
                {step.ok ? 'passed' : `failed${step.error ? ` (${step.error})` : ''}`}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </section>
  );
}

function FeedAccess({ id, readOnly }: { id: string; readOnly: boolean }) {
  const [tokens, setTokens] = useState<FeedToken[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setTokens((await call(client.GET('/v1/webhooks/{id}/feed-tokens', { params: { path: { id } } }))).data);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  useEffect(() => void load(), [id]);
  const revoke = async (tokenId: string) => {
    try {
      await call(client.DELETE('/v1/webhooks/{id}/feed-tokens/{tokenId}', { params: { path: { id, tokenId } } }));
      setError(null);
      await load();
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  return (
    <section aria-labelledby="feed-heading" class="card">
      <h2 id="feed-heading">Pull feed</h2>
      <p class="muted">
        The ERP reads <code class="break">{`${location.origin}/v1/feeds/${id}`}</code> and acknowledges what it
        processed. A feed token can read this feed and nothing else; it is minted with an API key (
        <code class="break">{`POST /v1/webhooks/${id}/feed-token`}</code>, optionally with <code>ttlSeconds</code>) and
        dies with that key.
      </p>
      {tokens && tokens.length ? (
        <ul aria-label="Feed tokens">
          {tokens.map((t) => (
            <li key={t.id}>
              <code>{t.prefix}…</code> created {new Date(t.createdAt).toLocaleString()}
              {t.expiresAt ? `, expires ${new Date(t.expiresAt).toLocaleString()}` : ''}
              {t.lastUsedAt ? `, last used ${new Date(t.lastUsedAt).toLocaleString()}` : ', never used'}{' '}
              {readOnly ? null : (
                <button type="button" class="secondary" onClick={() => void revoke(t.id)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : tokens ? (
        <p class="muted">No live feed token.</p>
      ) : null}
      {error ? <Alert>{error}</Alert> : null}
    </section>
  );
}

const STATUSES = ['pending', 'delivering', 'delivered', 'failed', 'superseded', 'discarded'];

function DeliveryLog({
  webhook,
  readOnly,
  refresh,
  initialStatus,
}: {
  webhook: Webhook;
  readOnly: boolean;
  refresh: number;
  initialStatus?: string;
}) {
  const catalog = useCatalog();
  const [status, setStatus] = useState(initialStatus ?? '');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (initialStatus) heading.current?.scrollIntoView();
  }, []);
  const [eventType, setEventType] = useState('');
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [page, setPage] = useState<Page<Delivery> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [since, setSince] = useState('');
  const [replayNote, setReplayNote] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];

  const load = async () => {
    try {
      const query = {
        webhookId: webhook.id,
        limit: 20,
        status: (status || undefined) as DeliveryStatus | undefined,
        eventType: (eventType || undefined) as DeliveryEventType | undefined,
        cursor: cursor || undefined,
      };
      setPage(await call(client.GET('/v1/deliveries', { params: { query } })));
      setError(null);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  useEffect(() => {
    void load();
  }, [status, eventType, cursor, refresh]);
  // New deliveries and their outcomes show up without Refresh.
  useLiveRefresh(load);

  const replay = async (event: Event) => {
    event.preventDefault();
    const at = new Date(since);
    if (!since || Number.isNaN(at.getTime())) {
      setReplayNote('Pick the time from which failed deliveries should be sent again.');
      return;
    }
    try {
      const answer = await call(
        client.POST('/v1/webhooks/{id}/replay', {
          params: { path: { id: webhook.id } },
          body: { since: at.toISOString() },
        }),
      );
      setReplayNote(
        `${answer.replayed} failed ${answer.replayed === 1 ? 'delivery was' : 'deliveries were'} queued again.`,
      );
      void load();
    } catch (failure) {
      setReplayNote(`Replay refused: ${describeError(failure)}`);
    }
  };

  return (
    <section aria-labelledby="log-heading" class="card">
      <h2 id="log-heading" ref={heading}>
        Delivery log
      </h2>
      <div class="toolbar">
        <div class="field">
          <label for="log-status">Filter by status</label>
          <select
            id="log-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setCursors([null]);
            }}
          >
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="log-type">Filter by event type</label>
          <select
            id="log-type"
            value={eventType}
            onChange={(e) => {
              setEventType(e.currentTarget.value);
              setCursors([null]);
            }}
          >
            <option value="">Any event type</option>
            {(catalog ?? []).map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </div>
        <button type="button" class="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
      {page === null ? (
        error ? null : (
          <Loading what="deliveries" />
        )
      ) : page.data.length === 0 ? (
        <p>No deliveries{status || eventType ? ' match these filters' : ' yet'}.</p>
      ) : (
        <table class="table responsive">
          <caption class="offscreen">Deliveries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event type</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last response</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {page.data.map((delivery) => (
              <tr key={delivery.id}>
                <td data-label="Event type">
                  <a href={`#/deliveries/${delivery.id}`}>{delivery.eventType}</a>
                </td>
                <td data-label="Status">
                  <StatusText status={delivery.status} />
                </td>
                <td data-label="Attempts">{delivery.attemptCount ?? '—'}</td>
                <td data-label="Last response">
                  {lastResponse(delivery)}
                  {delivery.lastReason ? <span class="reason break"> · {delivery.lastReason}</span> : null}
                </td>
                <td data-label="Created">{formatTime(delivery.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="toolbar">
        <button
          type="button"
          class="secondary"
          disabled={cursors.length < 2}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors((c) => [...c, page.nextCursor])}
        >
          Older
        </button>
      </div>
      {readOnly || webhook.deliveryMode === 'pull' ? null : (
        <form class="toolbar replay" onSubmit={replay}>
          <div class="field">
            <label for="replay-since">Replay failed since</label>
            <input
              id="replay-since"
              type="datetime-local"
              step={1}
              value={since}
              onInput={(e) => setSince(e.currentTarget.value)}
              aria-describedby="replay-hint"
            />
          </div>
          <button type="submit" class="secondary">
            Replay failed
          </button>
          <p class="hint" id="replay-hint">
            Sends this endpoint's failed deliveries from that time (your local time) on again.
          </p>
        </form>
      )}
      {replayNote ? <p role="status">{replayNote}</p> : null}
    </section>
  );
}

function lastResponse(delivery: Delivery): string {
  if (delivery.lastErrorClass && delivery.lastErrorClass !== 'http_status') return delivery.lastErrorClass;
  return delivery.lastResponseStatus ? `HTTP ${delivery.lastResponseStatus}` : '—';
}
