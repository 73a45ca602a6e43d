import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  call,
  client,
  type CreateWebhookBody,
  type DraftPreviewBody,
  type EventType,
  type FieldError,
  type StoredEvent,
  type UpdateWebhookBody,
  type Webhook,
} from './api';
import {
  type AuthType,
  bodyOf,
  type Draft,
  draftOf,
  draftProblems,
  EMPTY,
  type Format,
  isOperationalType,
  payloadOptionsOf,
  type Weekday,
  WEEKDAYS,
  type WindowDraft,
  windowFieldsInError,
} from './endpoint-draft';
import { navigate, type Flash } from './navigation';
import { useCatalog } from './catalog';
import { Alert, describeError, errorProps, FieldErrors, fieldErrorId, hasError, Loading } from './ui';

export function EndpointForm({ id, onCreated }: { id?: string; onCreated?: (flash: Flash) => void }) {
  const catalog = useCatalog();
  const [existing, setExisting] = useState<Webhook | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (!id) return;
    call(client.GET('/v1/webhooks/{id}', { params: { path: { id } } }))
      .then((webhook) => {
        setExisting(webhook);
        setDraft(draftOf(webhook));
      })
      .catch((failure) => setLoadError(describeError(failure)));
  }, [id]);

  const set = <K extends keyof Draft>(name: K, value: Draft[K]) => setDraft((d) => ({ ...d, [name]: value }));
  const text = (name: keyof Draft) => ({
    value: draft[name] as string,
    onInput: (e: Event) => set(name, (e.currentTarget as HTMLInputElement).value as never),
  });

  // After a refused save, once the errors are on screen: focus the first marked field (or the heading).
  const [refusals, setRefusals] = useState(0);
  useEffect(() => {
    if (!refusals) return;
    const first = document.querySelector<HTMLElement>('form [aria-invalid="true"]');
    (first ?? heading.current)?.focus();
  }, [refusals]);
  const refuse = (fieldErrors: FieldError[]) => {
    setErrors(fieldErrors);
    setFormError('The endpoint was not saved: correct the fields marked below.');
    setRefusals((n) => n + 1);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setErrors([]);
    setFormError(null);
    const problems = draftProblems(draft);
    if (problems.length) {
      refuse(problems);
      return;
    }
    setSaving(true);
    try {
      const body = bodyOf(draft, existing);
      if (existing) {
        await call(
          client.PATCH('/v1/webhooks/{id}', { params: { path: { id: existing.id } }, body: body as UpdateWebhookBody }),
        );
        navigate(`#/endpoints/${existing.id}`);
      } else {
        const created = await call(client.POST('/v1/webhooks', { body: body as CreateWebhookBody }));
        onCreated?.({ webhookId: created.id, secret: created.secret ?? '' });
        navigate(`#/endpoints/${created.id}`);
      }
    } catch (failure) {
      if (failure instanceof ApiError && failure.fieldErrors.length) {
        refuse(failure.fieldErrors);
      } else {
        setFormError(`The endpoint was not saved: ${describeError(failure)}`);
        setRefusals((n) => n + 1);
      }
    } finally {
      setSaving(false);
    }
  };

  if (loadError) return <Alert>{loadError}</Alert>;
  if (id && !existing) return <Loading what="the endpoint" />;
  const known = new Set([
    'name',
    'url',
    'description',
    'eventTypes',
    'filters',
    'headers',
    'timeoutMs',
    'maxConcurrency',
    'rateLimitPerSecond',
    'retrySchedule',
    'payloadFormat',
    'payloadOptions',
    'auth',
    'tls',
    'deliveryMode',
    'ordered',
    'permanentStatuses',
    'maintenanceWindows',
  ]);
  const stray = errors.filter((e) => !known.has(e.field.split('.')[0]));

  return (
    <form onSubmit={submit} class="stack form" noValidate aria-labelledby="form-heading">
      <div class="page-head">
        <h1 id="form-heading" ref={heading} tabIndex={-1}>
          {existing ? `Edit ${existing.name}` : 'Add endpoint'}
        </h1>
        <a href={existing ? `#/endpoints/${existing.id}` : '#/endpoints'}>Cancel</a>
      </div>
      {formError ? (
        <Alert>
          {formError}
          {stray.length ? (
            <ul>
              {stray.map((e) => (
                <li key={e.field}>
                  {e.field}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </Alert>
      ) : null}

      <fieldset>
        <legend>Endpoint</legend>
        <div class="field">
          <label for="f-name">Name</label>
          <input id="f-name" type="text" required {...text('name')} {...errorProps('name', errors)} />
          <FieldErrors field="name" errors={errors} />
        </div>
        <fieldset class="inline">
          <legend>Delivery</legend>
          <label>
            <input
              type="radio"
              name="deliveryMode"
              value="push"
              checked={draft.deliveryMode === 'push'}
              onChange={() => set('deliveryMode', 'push')}
            />{' '}
            Push (Waybill sends each event)
          </label>
          <label>
            <input
              type="radio"
              name="deliveryMode"
              value="pull"
              checked={draft.deliveryMode === 'pull'}
              onChange={() => set('deliveryMode', 'pull')}
            />{' '}
            Pull feed (the ERP fetches events)
          </label>
        </fieldset>
        <div class="field">
          <label for="f-url">URL</label>
          <input
            id="f-url"
            type="url"
            inputMode="url"
            placeholder="https://erp.example.com/inbound/waybill"
            {...text('url')}
            {...errorProps('url', errors, 'f-url-hint')}
          />
          <p id="f-url-hint" class="hint">
            {draft.deliveryMode === 'pull'
              ? 'Optional for a pull feed.'
              : 'Where pushes go: http(s), a public address.'}
          </p>
          <FieldErrors field="url" errors={errors} />
        </div>
        <div class="field">
          <label for="f-description">Description</label>
          <input id="f-description" type="text" {...text('description')} {...errorProps('description', errors)} />
          <FieldErrors field="description" errors={errors} />
        </div>
      </fieldset>

      <EventTypePicker catalog={catalog} draft={draft} set={set} errors={errors} />

      <fieldset>
        <legend>Filters</legend>
        <p class="hint" id="filters-hint">
          Only events whose data has one of the values at the path are sent, e.g. <code>carrier.scac</code> ={' '}
          <code>DHLF, UPSN</code>.
        </p>
        {draft.filters.map((filter, index) => (
          <div class="row" key={index}>
            <div class="field">
              <label for={`filter-path-${index}`}>Filter {index + 1} field</label>
              <input
                id={`filter-path-${index}`}
                type="text"
                value={filter.path}
                onInput={(e) =>
                  set(
                    'filters',
                    draft.filters.map((f, i) => (i === index ? { ...f, path: e.currentTarget.value } : f)),
                  )
                }
              />
            </div>
            <div class="field">
              <label for={`filter-values-${index}`}>Filter {index + 1} values (comma-separated)</label>
              <input
                id={`filter-values-${index}`}
                type="text"
                value={filter.values}
                onInput={(e) =>
                  set(
                    'filters',
                    draft.filters.map((f, i) => (i === index ? { ...f, values: e.currentTarget.value } : f)),
                  )
                }
              />
            </div>
            <button
              type="button"
              class="secondary"
              onClick={() =>
                set(
                  'filters',
                  draft.filters.filter((_, i) => i !== index),
                )
              }
            >
              Remove filter {index + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          class="secondary"
          onClick={() => set('filters', [...draft.filters, { path: '', values: '' }])}
        >
          Add filter
        </button>
        <FieldErrors field="filters" errors={errors} />
      </fieldset>

      <fieldset>
        <legend>Custom headers</legend>
        <p class="hint">
          Sent with every push. Values are write-only
          {existing?.headerNames.length ? ': to change any header, enter every value again' : ''}.
        </p>
        {draft.headers.map((header, index) => (
          <div class="row" key={index}>
            <div class="field">
              <label for={`header-name-${index}`}>Header {index + 1} name</label>
              <input
                id={`header-name-${index}`}
                type="text"
                value={header.name}
                onInput={(e) =>
                  setDraft((d) => ({
                    ...d,
                    headersTouched: true,
                    headers: d.headers.map((h, i) => (i === index ? { ...h, name: e.currentTarget.value } : h)),
                  }))
                }
              />
            </div>
            <div class="field">
              <label for={`header-value-${index}`}>Header {index + 1} value</label>
              <input
                id={`header-value-${index}`}
                type="password"
                autocomplete="off"
                placeholder={existing && !draft.headersTouched ? '(stored)' : ''}
                aria-invalid={hasError('headers', errors) && header.name.trim() && !header.value ? 'true' : undefined}
                aria-describedby={hasError('headers', errors) ? fieldErrorId('headers') : undefined}
                value={header.value}
                onInput={(e) =>
                  setDraft((d) => ({
                    ...d,
                    headersTouched: true,
                    headers: d.headers.map((h, i) => (i === index ? { ...h, value: e.currentTarget.value } : h)),
                  }))
                }
              />
            </div>
            <button
              type="button"
              class="secondary"
              onClick={() =>
                setDraft((d) => ({ ...d, headersTouched: true, headers: d.headers.filter((_, i) => i !== index) }))
              }
            >
              Remove header {index + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          class="secondary"
          onClick={() =>
            setDraft((d) => ({ ...d, headersTouched: true, headers: [...d.headers, { name: '', value: '' }] }))
          }
        >
          Add header
        </button>
        <FieldErrors field="headers" errors={errors} />
      </fieldset>

      <fieldset>
        <legend>Ordering</legend>
        <label class="check">
          <input
            type="checkbox"
            checked={draft.ordered}
            onChange={(e) => set('ordered', e.currentTarget.checked)}
            aria-describedby="ordered-hint"
          />{' '}
          Ordered delivery
        </label>
        <p class="hint" id="ordered-hint">
          An event waits while an earlier one of the same order or shipment is still on its way to this endpoint.
        </p>
      </fieldset>

      <fieldset>
        <legend>ERP answers</legend>
        <div class="field">
          <label for="f-permanentStatuses">Permanent statuses</label>
          <input
            id="f-permanentStatuses"
            type="text"
            inputMode="numeric"
            placeholder="400, 422"
            value={draft.permanentStatuses}
            onInput={(e) => {
              const value = e.currentTarget.value;
              setDraft((d) => ({ ...d, permanentStatuses: value, permanentStatusesTouched: true }));
            }}
            {...errorProps('permanentStatuses', errors, 'f-permanentStatuses-hint')}
          />
          <p class="hint" id="f-permanentStatuses-hint">
            HTTP statuses that end a delivery as failed at once, with no retry and without counting toward health (the
            endpoint is up, the data is wrong), comma-separated, e.g. <code>400, 422</code>. Empty: every answer that is
            not 2xx is retried.
          </p>
          <FieldErrors field="permanentStatuses" errors={errors} />
        </div>
      </fieldset>

      <MaintenanceWindows draft={draft} setDraft={setDraft} errors={errors} />

      <PayloadFormat draft={draft} set={set} text={text} errors={errors} />
      <ReceiverAuth draft={draft} set={set} text={text} errors={errors} existing={existing} />

      <details class="advanced">
        <summary>Advanced</summary>
        <div class="grid">
          <NumberField
            id="timeoutMs"
            label="Timeout (ms)"
            hint="Per attempt, 100–60000. Default 10000."
            draft={draft}
            text={text}
            errors={errors}
          />
          <NumberField
            id="maxConcurrency"
            label="Max concurrency"
            hint="Requests in flight at once, 1–256. Default 32."
            draft={draft}
            text={text}
            errors={errors}
          />
          <NumberField
            id="rateLimitPerSecond"
            label="Rate limit (requests per second)"
            hint="Empty: no limit."
            draft={draft}
            text={text}
            errors={errors}
          />
          <div class="field">
            <label for="f-retrySchedule">Retry schedule</label>
            <input
              id="f-retrySchedule"
              type="text"
              placeholder="5s, 5m, 30m, 2h, 5h, 10h, 14h"
              {...text('retrySchedule')}
              {...errorProps('retrySchedule', errors, 'retry-hint')}
            />
            <p class="hint" id="retry-hint">
              Waits between attempts, comma-separated; empty uses the service default; <code>none</code> for no retries.
            </p>
            <FieldErrors field="retrySchedule" errors={errors} />
          </div>
        </div>
      </details>

      <div class="actions">
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : existing ? 'Save changes' : 'Create endpoint'}
        </button>
      </div>
    </form>
  );
}

type Setter = <K extends keyof Draft>(name: K, value: Draft[K]) => void;

const DAY_NAMES: Record<Weekday, string> = {
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
  sun: 'Sun',
};

/** The browser's own zone: the likeliest one for a new window. */
function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/**
 * The ERP's batch windows, each as days, start, end and zone. The API checks them; its errors
 * (`maintenanceWindows.0.start`: "must be a time such as 01:00") are shown under the windows and
 * mark the inputs they name.
 */
function MaintenanceWindows({
  draft,
  setDraft,
  errors,
}: {
  draft: Draft;
  setDraft: (update: (d: Draft) => Draft) => void;
  errors: FieldError[];
}) {
  const zones = useMemo(() => {
    try {
      return Intl.supportedValuesOf('timeZone');
    } catch {
      return [];
    }
  }, []);
  const windows = (update: (windows: WindowDraft[]) => WindowDraft[]) =>
    setDraft((d) => ({ ...d, windowsTouched: true, windows: update(d.windows) }));
  const change = (index: number, patch: Partial<WindowDraft>) =>
    windows((all) => all.map((w, i) => (i === index ? { ...w, ...patch } : w)));
  const errorId = fieldErrorId('maintenanceWindows');
  return (
    <fieldset aria-describedby="windows-hint">
      <legend>Maintenance windows</legend>
      <p class="hint" id="windows-hint">
        The ERP's batch windows, in its local time. Inside one, pushes are held (no attempt, no retry spent) and go out
        oldest first when it ends. An end that is not after the start crosses midnight; <code>24:00</code> is the end of
        the day.
      </p>
      {draft.windows.map((w, index) => {
        const named = windowFieldsInError(errors, index);
        const mark = (key: string) =>
          named.has(key) || named.has('window')
            ? { 'aria-invalid': 'true' as const, 'aria-describedby': errorId }
            : { 'aria-invalid': undefined, 'aria-describedby': undefined };
        return (
          <fieldset key={index}>
            <legend>Window {index + 1}</legend>
            <fieldset class="inline">
              <legend>Days</legend>
              {WEEKDAYS.map((day) => (
                <label class="check" key={day}>
                  <input
                    type="checkbox"
                    checked={w.days.includes(day)}
                    onChange={(e) => {
                      const on = e.currentTarget.checked;
                      change(index, { days: on ? [...w.days, day] : w.days.filter((d) => d !== day) });
                    }}
                    {...mark('days')}
                  />
                  {DAY_NAMES[day]}
                </label>
              ))}
            </fieldset>
            <div class="grid">
              <div class="field">
                <label for={`window-start-${index}`}>Start</label>
                <input
                  id={`window-start-${index}`}
                  type="text"
                  placeholder="01:00"
                  value={w.start}
                  onInput={(e) => change(index, { start: e.currentTarget.value })}
                  {...mark('start')}
                />
              </div>
              <div class="field">
                <label for={`window-end-${index}`}>End</label>
                <input
                  id={`window-end-${index}`}
                  type="text"
                  placeholder="03:30"
                  value={w.end}
                  onInput={(e) => change(index, { end: e.currentTarget.value })}
                  {...mark('end')}
                />
              </div>
              <div class="field">
                <label for={`window-zone-${index}`}>Time zone</label>
                <input
                  id={`window-zone-${index}`}
                  type="text"
                  list="time-zones"
                  autocomplete="off"
                  placeholder="Europe/Berlin"
                  value={w.timeZone}
                  onInput={(e) => change(index, { timeZone: e.currentTarget.value })}
                  {...mark('timeZone')}
                />
              </div>
            </div>
            <button type="button" class="secondary" onClick={() => windows((all) => all.filter((_, i) => i !== index))}>
              Remove window {index + 1}
            </button>
          </fieldset>
        );
      })}
      <button
        type="button"
        class="secondary"
        onClick={() =>
          windows((all) => [
            ...all,
            { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '01:00', end: '03:00', timeZone: localTimeZone() },
          ])
        }
      >
        Add maintenance window
      </button>
      <datalist id="time-zones">
        {zones.map((zone) => (
          <option key={zone} value={zone} />
        ))}
      </datalist>
      <FieldErrors field="maintenanceWindows" errors={errors} />
    </fieldset>
  );
}
type TextProps = (name: keyof Draft) => { value: string; onInput: (e: Event) => void };

function NumberField({
  id,
  label,
  hint,
  text,
  errors,
}: {
  id: keyof Draft;
  label: string;
  hint: string;
  draft: Draft;
  text: TextProps;
  errors: FieldError[];
}) {
  return (
    <div class="field">
      <label for={`f-${id}`}>{label}</label>
      <input id={`f-${id}`} type="text" inputMode="numeric" {...text(id)} {...errorProps(id, errors, `f-${id}-hint`)} />
      <p class="hint" id={`f-${id}-hint`}>
        {hint}
      </p>
      <FieldErrors field={id} errors={errors} />
    </div>
  );
}

function EventTypePicker({
  catalog,
  draft,
  set,
  errors,
}: {
  catalog: EventType[] | null;
  draft: Draft;
  set: Setter;
  errors: FieldError[];
}) {
  const groups = useMemo(() => {
    const byObject = new Map<string, EventType[]>();
    for (const type of catalog ?? []) {
      if (type.name === 'webhook.test') continue;
      const object = type.name.split('.')[0];
      byObject.set(object, [...(byObject.get(object) ?? []), type]);
    }
    return [...byObject.entries()];
  }, [catalog]);
  const toggle = (name: string, on: boolean) =>
    set('eventTypes', on ? [...draft.eventTypes, name] : draft.eventTypes.filter((t) => t !== name));

  return (
    <fieldset aria-describedby={hasError('eventTypes', errors) ? fieldErrorId('eventTypes') : undefined}>
      <legend>Event types</legend>
      <label class="check">
        <input type="checkbox" checked={draft.allTypes} onChange={(e) => set('allTypes', e.currentTarget.checked)} />{' '}
        All order and shipment event types (<code>*</code>), including ones added later
      </label>
      {catalog === null ? <Loading what="the event catalog" /> : null}
      <div class="type-groups">
        {groups.map(([object, types]) => (
          <fieldset key={object} class="type-group" disabled={draft.allTypes && !isOperationalType(types[0].name)}>
            <legend>
              {object === 'order'
                ? 'Orders'
                : object === 'shipment'
                  ? 'Shipments'
                  : object === 'webhook'
                    ? 'Endpoint health (operational, never included in *)'
                    : object === 'delivery'
                      ? 'Failed deliveries (operational, never included in *)'
                      : object}
            </legend>
            {types.map((type) => {
              const id = `type-${type.name.replace(/\./g, '-')}`;
              const covered = draft.allTypes && !isOperationalType(type.name);
              return (
                <div class="check-with-hint" key={type.name}>
                  <input
                    id={id}
                    type="checkbox"
                    checked={covered || draft.eventTypes.includes(type.name)}
                    onChange={(e) => toggle(type.name, e.currentTarget.checked)}
                    aria-describedby={`${id}-description`}
                  />
                  <label for={id}>{type.name}</label>
                  <p class="hint" id={`${id}-description`}>
                    {type.description}
                  </p>
                </div>
              );
            })}
          </fieldset>
        ))}
      </div>
      <FieldErrors field="eventTypes" errors={errors} />
    </fieldset>
  );
}

function PayloadFormat({
  draft,
  set,
  text,
  errors,
}: {
  draft: Draft;
  set: Setter;
  text: TextProps;
  errors: FieldError[];
}) {
  const x12 = draft.payloadFormat === 'x12-214';
  const edi = x12 || draft.payloadFormat === 'edifact-iftsta';
  return (
    <fieldset>
      <legend>Payload format</legend>
      <div class="field">
        <label for="f-payloadFormat">Format</label>
        <select
          id="f-payloadFormat"
          value={draft.payloadFormat}
          onChange={(e) => set('payloadFormat', e.currentTarget.value as Format)}
          {...errorProps('payloadFormat', errors)}
        >
          <option value="envelope">Waybill JSON envelope</option>
          <option value="jsonata">JSONata mapping (your ERP's own JSON)</option>
          <option value="x12-214">ANSI X12 214 (shipment status)</option>
          <option value="edifact-iftsta">UN/EDIFACT IFTSTA (status report)</option>
        </select>
        <FieldErrors field="payloadFormat" errors={errors} />
      </div>
      {draft.payloadFormat === 'jsonata' ? (
        <>
          <div class="field">
            <label for="f-expression">JSONata expression</label>
            <textarea
              id="f-expression"
              rows={5}
              spellcheck={false}
              {...text('expression')}
              {...errorProps('payloadOptions.expression', errors, 'expression-hint')}
            />
            <p class="hint" id="expression-hint">
              Evaluated over the envelope (<code>id</code>, <code>type</code>, <code>data</code>…); its result is the
              body.
            </p>
            <FieldErrors field="payloadOptions.expression" errors={errors} />
          </div>
          <Text id="contentType" label="Content type" path="payloadOptions.contentType" text={text} errors={errors} />
        </>
      ) : null}
      {edi ? (
        <div class="grid">
          <Text id="senderId" label="Sender id" path="payloadOptions.senderId" text={text} errors={errors} />
          {x12 ? (
            <Text
              id="senderQualifier"
              label="Sender qualifier"
              path="payloadOptions.senderQualifier"
              text={text}
              errors={errors}
            />
          ) : null}
          <Text id="receiverId" label="Receiver id" path="payloadOptions.receiverId" text={text} errors={errors} />
          {x12 ? (
            <Text
              id="receiverQualifier"
              label="Receiver qualifier"
              path="payloadOptions.receiverQualifier"
              text={text}
              errors={errors}
            />
          ) : null}
          <div class="field">
            <label for="f-usageIndicator">Usage</label>
            <select
              id="f-usageIndicator"
              value={draft.usageIndicator}
              onChange={(e) => set('usageIndicator', e.currentTarget.value)}
            >
              {x12 ? null : <option value="">Not set (production)</option>}
              <option value="T">Test (T)</option>
              <option value="P">Production (P)</option>
            </select>
          </div>
          {x12 ? (
            <Text
              id="elementSeparator"
              label="Element separator"
              path="payloadOptions.elementSeparator"
              text={text}
              errors={errors}
              placeholder="*"
            />
          ) : null}
          {x12 ? (
            <Text
              id="segmentTerminator"
              label="Segment terminator"
              path="payloadOptions.segmentTerminator"
              text={text}
              errors={errors}
              placeholder="~"
            />
          ) : null}
        </div>
      ) : null}
      <FieldErrors field="payloadOptions" errors={errors.filter((e) => e.field === 'payloadOptions')} />
      <Preview draft={draft} />
    </fieldset>
  );
}

/** A live preview of the exact body, for a catalog example or one of the tenant's recent events. */
function Preview({ draft }: { draft: Draft }) {
  const catalog = useCatalog();
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [source, setSource] = useState('');
  const [preview, setPreview] = useState<{ body: string | null; contentType: string } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call(client.GET('/v1/events', { params: { query: { limit: 20 } } }))
      .then((page) => setEvents(page.data))
      .catch(() => setEvents([]));
  }, []);

  const types = (catalog ?? []).map((t) => t.name).filter((name) => name !== 'webhook.test');
  const fallback =
    draft.eventTypes[0] ??
    (draft.payloadFormat === 'x12-214' || draft.payloadFormat === 'edifact-iftsta'
      ? 'shipment.status_changed'
      : types[0]);
  const chosen = source || (fallback ? `type:${fallback}` : '');
  const options = JSON.stringify(payloadOptionsOf(draft));

  useEffect(() => {
    if (!chosen) return;
    const timer = window.setTimeout(() => {
      const body: Record<string, unknown> = { payloadFormat: draft.payloadFormat, payloadOptions: JSON.parse(options) };
      if (chosen.startsWith('event:')) body.eventId = chosen.slice(6);
      else body.eventType = chosen.slice(5);
      call(client.POST('/v1/webhooks/preview', { body: body as DraftPreviewBody }))
        .then((answer) => {
          setPreview(answer);
          setError(null);
        })
        .catch((failure) => {
          setPreview(null);
          setError(describeError(failure));
        });
    }, 350);
    return () => window.clearTimeout(timer);
  }, [chosen, draft.payloadFormat, options]);

  return (
    <div class="preview">
      <div class="field">
        <label for="f-preview-source">Preview with</label>
        <select id="f-preview-source" value={chosen} onChange={(e) => setSource(e.currentTarget.value)}>
          <optgroup label="Catalog examples">
            {types.map((name) => (
              <option key={name} value={`type:${name}`}>
                Example {name}
              </option>
            ))}
          </optgroup>
          {events.length ? (
            <optgroup label="Recent events of this tenant">
              {events.map((event) => (
                <option key={event.id} value={`event:${event.id}`}>
                  {event.type} · {event.id}
                </option>
              ))}
            </optgroup>
          ) : null}
        </select>
      </div>
      <div aria-live="polite">
        {error ? <p class="field-error">Preview: {error}</p> : null}
        {preview ? (
          <>
            <p class="hint">
              Content type <code>{preview.contentType}</code>
            </p>
            <pre class="code" tabIndex={0} aria-label="Preview of the body" data-testid="preview-body">
              {preview.body ?? '(no body)'}
            </pre>
          </>
        ) : null}
      </div>
    </div>
  );
}

function ReceiverAuth({
  draft,
  set,
  text,
  errors,
  existing,
}: {
  draft: Draft;
  set: Setter;
  text: TextProps;
  errors: FieldError[];
  existing: Webhook | null;
}) {
  const stored = existing !== null && existing.auth.type === draft.authType && draft.authType !== 'none';
  const secretHint = stored ? 'Stored; leave empty to keep it.' : 'Write-only: it is never shown again.';
  return (
    <fieldset>
      <legend>Receiver authentication</legend>
      <div class="field">
        <label for="f-authType">How Waybill signs in to the ERP</label>
        <select
          id="f-authType"
          value={draft.authType}
          onChange={(e) => set('authType', e.currentTarget.value as AuthType)}
        >
          <option value="none">None (signature only)</option>
          <option value="basic">HTTP Basic</option>
          <option value="bearer">Bearer token</option>
          <option value="oauth2ClientCredentials">OAuth 2.0 client credentials</option>
        </select>
      </div>
      {draft.authType === 'basic' ? (
        <div class="grid">
          <Text id="username" label="Username" path="auth.username" text={text} errors={errors} />
          <Text
            id="password"
            label="Password"
            path="auth.password"
            text={text}
            errors={errors}
            secret
            hint={secretHint}
          />
        </div>
      ) : null}
      {draft.authType === 'bearer' ? (
        <Text
          id="bearerToken"
          label="Bearer token"
          path="auth.token"
          text={text}
          errors={errors}
          secret
          hint={secretHint}
        />
      ) : null}
      {draft.authType === 'oauth2ClientCredentials' ? (
        <div class="grid">
          <Text id="tokenUrl" label="Token URL" path="auth.tokenUrl" text={text} errors={errors} />
          <Text id="clientId" label="Client id" path="auth.clientId" text={text} errors={errors} />
          <Text
            id="clientSecret"
            label="Client secret"
            path="auth.clientSecret"
            text={text}
            errors={errors}
            secret
            hint={secretHint}
          />
          <Text id="scope" label="Scope" path="auth.scope" text={text} errors={errors} hint="Optional." />
          <Text id="audience" label="Audience" path="auth.audience" text={text} errors={errors} hint="Optional." />
          <div class="field">
            <label for="f-clientAuth">Client authentication</label>
            <select
              id="f-clientAuth"
              value={draft.clientAuth}
              onChange={(e) => set('clientAuth', e.currentTarget.value)}
            >
              <option value="client_secret_basic">client_secret_basic (Authorization header)</option>
              <option value="client_secret_post">client_secret_post (form body)</option>
            </select>
          </div>
        </div>
      ) : null}
      <FieldErrors field="auth" errors={errors.filter((e) => e.field === 'auth' || e.field === 'auth.type')} />
      <details class="advanced">
        <summary>Mutual TLS (client certificate){existing?.tls ? ': configured' : ''}</summary>
        {existing?.tls ? (
          <p class="hint">
            Stored certificate: {existing.tls.subject}, issued by {existing.tls.issuer}, valid to {existing.tls.validTo}
            {existing.tls.caConfigured ? '; private CA trusted' : ''}.
          </p>
        ) : null}
        <div class="field">
          <label for="f-tlsCert">Client certificate (PEM)</label>
          <textarea
            id="f-tlsCert"
            rows={4}
            spellcheck={false}
            {...text('tlsCert')}
            {...errorProps('tls.clientCertificatePem', errors)}
          />
          <FieldErrors field="tls.clientCertificatePem" errors={errors} />
        </div>
        <div class="field">
          <label for="f-tlsKey">Client key (PEM, write-only)</label>
          <textarea
            id="f-tlsKey"
            rows={4}
            spellcheck={false}
            {...text('tlsKey')}
            {...errorProps('tls.clientKeyPem', errors)}
          />
          <FieldErrors field="tls.clientKeyPem" errors={errors} />
        </div>
        <div class="field">
          <label for="f-tlsCa">Trusted CA (PEM, optional)</label>
          <textarea id="f-tlsCa" rows={3} spellcheck={false} {...text('tlsCa')} {...errorProps('tls.caPem', errors)} />
          <FieldErrors field="tls.caPem" errors={errors} />
        </div>
        {existing?.tls ? (
          <label class="check">
            <input
              type="checkbox"
              checked={draft.removeTls}
              onChange={(e) => set('removeTls', e.currentTarget.checked)}
            />{' '}
            Remove the client certificate
          </label>
        ) : null}
        <FieldErrors field="tls" errors={errors.filter((e) => e.field === 'tls')} />
      </details>
      <p class="hint">
        Save, then use “Check connection” on the endpoint page to test DNS, TLS and the token without sending an event.
      </p>
    </fieldset>
  );
}

function Text({
  id,
  label,
  path,
  text,
  errors,
  secret,
  hint,
  placeholder,
}: {
  id: keyof Draft;
  label: string;
  path: string;
  text: TextProps;
  errors: FieldError[];
  secret?: boolean;
  hint?: string;
  placeholder?: string;
}) {
  return (
    <div class="field">
      <label for={`f-${id}`}>{label}</label>
      {secret ? (
        <input
          id={`f-${id}`}
          type="password"
          autocomplete="off"
          {...text(id)}
          {...errorProps(path, errors, hint ? `f-${id}-hint` : undefined)}
        />
      ) : (
        <input
          id={`f-${id}`}
          type="text"
          autocomplete="off"
          placeholder={placeholder}
          {...text(id)}
          {...errorProps(path, errors, hint ? `f-${id}-hint` : undefined)}
        />
      )}
      {hint ? (
        <p class="hint" id={`f-${id}-hint`}>
          {hint}
        </p>
      ) : null}
      <FieldErrors field={path} errors={errors} />
    </div>
  );
}
