import { useEffect, useState } from 'preact/hooks';
import { call, client, type Page, type Webhook } from './api';
import { Alert, describeError, EnabledSwitch, formatTime, HealthBadge, HealthBanner, Loading } from './ui';

export function EndpointList({ readOnly }: { readOnly: boolean }) {
  const [webhooks, setWebhooks] = useState<Webhook[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async () => {
    try {
      const all: Webhook[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<Webhook> = await call(
          client.GET('/v1/webhooks', { params: { query: { limit: 200, cursor: cursor ?? undefined } } }),
        );
        all.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      setWebhooks(all);
      setError(null);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const toggle = async (webhook: Webhook, enabled: boolean) => {
    try {
      const updated = await call(
        client.PATCH('/v1/webhooks/{id}', { params: { path: { id: webhook.id } }, body: { enabled } }),
      );
      setWebhooks((list) => list?.map((w) => (w.id === updated.id ? updated : w)) ?? null);
    } catch (failure) {
      setError(`Could not ${enabled ? 'enable' : 'disable'} ${webhook.name}: ${describeError(failure)}`);
    }
  };

  return (
    <section aria-labelledby="endpoints-heading">
      <div class="page-head">
        <h1 id="endpoints-heading">Endpoints</h1>
        {readOnly ? null : (
          <a class="button" href="#/endpoints/new">
            Add endpoint
          </a>
        )}
      </div>
      <p class="muted">
        Where Waybill pushes order and shipment events for this tenant. Each endpoint gets signed pushes for the event
        types it subscribes to.
      </p>
      {readOnly ? <Alert kind="info">Read-only: you can look at everything here but not change it.</Alert> : null}
      {error ? <Alert>{error}</Alert> : null}
      {(webhooks ?? [])
        .filter((w) => w.enabled && (w.status === 'disabled' || w.status === 'failing'))
        .map((w) => (
          <HealthBanner key={w.id} webhook={w} named />
        ))}
      {webhooks === null ? (
        error ? null : (
          <Loading what="endpoints" />
        )
      ) : webhooks.length === 0 ? (
        <p>No endpoints yet.{readOnly ? '' : ' Add one to start receiving events.'}</p>
      ) : (
        <table class="table responsive">
          <caption class="offscreen">Endpoints with their health</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">URL</th>
              <th scope="col">Event types</th>
              <th scope="col">Health</th>
              <th scope="col">Last success</th>
              <th scope="col">Last failure</th>
              <th scope="col">Enabled</th>
            </tr>
          </thead>
          <tbody>
            {webhooks.map((webhook) => (
              <tr key={webhook.id}>
                <td data-label="Name">
                  <a href={`#/endpoints/${webhook.id}`}>{webhook.name}</a>
                </td>
                <td data-label="URL" class="break">
                  {webhook.deliveryMode === 'pull' ? <span class="muted">pull feed</span> : webhook.url}
                </td>
                <td data-label="Event types" class="break">
                  {webhook.eventTypes.join(', ')}
                </td>
                <td data-label="Health">
                  <HealthBadge webhook={webhook} />
                </td>
                <td data-label="Last success">{formatTime(webhook.lastSuccessAt)}</td>
                <td data-label="Last failure">{formatTime(webhook.lastFailureAt)}</td>
                <td data-label="Enabled">
                  <EnabledSwitch
                    enabled={webhook.enabled}
                    disabled={readOnly}
                    label={`Enabled: ${webhook.name}`}
                    visibleLabel={webhook.enabled ? 'On' : 'Off'}
                    onToggle={(enabled) => void toggle(webhook, enabled)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
