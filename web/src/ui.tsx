import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type FieldError, type Webhook } from './api';

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** The id of the element that shows an API field error: `auth.clientSecret` → `field-error-auth-clientSecret`. */
export const fieldErrorId = (field: string) => `field-error-${field.replace(/\./g, '-')}`;

export function HealthBadge({ webhook }: { webhook: Webhook }) {
  if (webhook.status === 'disabled') {
    return (
      <span class="badge badge-disabled" title={webhook.disabledReason ?? undefined}>
        Disabled{webhook.disabledReason ? <span class="badge-reason">: {webhook.disabledReason}</span> : null}
      </span>
    );
  }
  if (webhook.paused) return <span class="badge badge-paused">Paused</span>;
  if (webhook.status === 'failing') {
    return (
      <span class="badge badge-failing">
        Failing<span class="badge-reason"> ({webhook.consecutiveFailures} in a row)</span>
      </span>
    );
  }
  return <span class="badge badge-healthy">Healthy</span>;
}

/**
 * A disabled or failing endpoint, said plainly: why (the reason Waybill recorded and the ERP's
 * last answer) and a link to its failed deliveries. Nothing for a healthy one.
 */
export function HealthBanner({ webhook, named = false }: { webhook: Webhook; named?: boolean }) {
  if (webhook.status !== 'disabled' && webhook.status !== 'failing') return null;
  const disabled = webhook.status === 'disabled';
  const who = named ? webhook.name : 'This endpoint';
  return (
    <div class={`alert banner banner-${webhook.status}`} role="status" data-testid="health-banner">
      <p>
        <strong>
          {who} {disabled ? 'is disabled' : 'is failing'}.
        </strong>{' '}
        {disabled
          ? 'New deliveries are held until it is re-enabled.'
          : `${webhook.consecutiveFailures} attempts in a row failed; deliveries keep being retried.`}
      </p>
      {disabled && webhook.disabledReason ? <p>Reason: {webhook.disabledReason}</p> : null}
      {webhook.lastFailureReason ? (
        <p>
          Last answer: <q class="break">{webhook.lastFailureReason}</q>
        </p>
      ) : null}
      <p>
        <a href={`#/endpoints/${webhook.id}/failed`}>Show failed deliveries{named ? ` of ${webhook.name}` : ''}</a>
      </p>
    </div>
  );
}

export function StatusText({ status }: { status: string }) {
  return <span class={`delivery-status status-${status}`}>{status}</span>;
}

/** Copies text; says so in a live region (the clipboard API needs a secure context or a permission). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      ok = legacyCopy(text);
    }
    setState(ok ? 'copied' : 'failed');
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), 4000);
  };
  return (
    <span class="copy">
      <button type="button" class="secondary" onClick={copy}>
        {label}
      </button>
      <span role="status" class="copy-state">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Could not copy: select the text and copy it' : ''}
      </span>
    </span>
  );
}

function legacyCopy(text: string): boolean {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function Alert({
  children,
  kind = 'error',
}: {
  children: ComponentChildren;
  kind?: 'error' | 'info' | 'success';
}) {
  return (
    <div role={kind === 'error' ? 'alert' : 'status'} class={`alert alert-${kind}`}>
      {children}
    </div>
  );
}

/** Field errors the API gave for `field` (and its children), shown beside the input. */
export function FieldErrors({ field, errors }: { field: string; errors: FieldError[] }) {
  const mine = errors.filter((e) => e.field === field || e.field.startsWith(`${field}.`));
  return (
    <p id={fieldErrorId(field)} class="field-error" hidden={mine.length === 0}>
      {mine.map((e) => (e.field === field ? e.message : `${e.field.slice(field.length + 1)}: ${e.message}`)).join('; ')}
    </p>
  );
}

export function hasError(field: string, errors: FieldError[]): boolean {
  return errors.some((e) => e.field === field || e.field.startsWith(`${field}.`));
}

/** Props that tie an input to its error line. */
export function errorProps(field: string, errors: FieldError[], hintId?: string) {
  const invalid = hasError(field, errors);
  const describedBy = [hintId, invalid ? fieldErrorId(field) : undefined].filter(Boolean).join(' ');
  return { 'aria-invalid': invalid ? ('true' as const) : undefined, 'aria-describedby': describedBy || undefined };
}

export function Code({ children }: { children: ComponentChildren }) {
  return (
    <pre class="code" tabIndex={0}>
      {children}
    </pre>
  );
}

export function prettyBody(body: string | null | undefined): string {
  if (body === null || body === undefined || body === '') return '(empty)';
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** The enable switch of an endpoint: a native checkbox with the switch role. */
export function EnabledSwitch({
  enabled,
  disabled,
  label,
  visibleLabel,
  onToggle,
}: {
  enabled: boolean;
  disabled: boolean;
  label?: string;
  visibleLabel: string;
  onToggle: (enabled: boolean) => void;
}) {
  return (
    <label class="switch">
      <input
        type="checkbox"
        role="switch"
        checked={enabled}
        disabled={disabled}
        aria-label={label}
        onChange={(e) => onToggle(e.currentTarget.checked)}
      />
      <span aria-hidden={label ? 'true' : undefined}>{visibleLabel}</span>
    </label>
  );
}

/** How often a visible page re-reads what it shows (the endpoint page and its delivery log). */
export const LIVE_REFRESH_MS = 5_000;

/**
 * Calls `refresh` every LIVE_REFRESH_MS while the tab is visible, and once at once when it
 * becomes visible again; nothing while hidden. A call still running is not started twice. The
 * caller replaces its data in place (keyed rows), so nothing flickers and scroll and open rows stay.
 */
export function useLiveRefresh(refresh: () => Promise<unknown>, intervalMs = LIVE_REFRESH_MS): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    let running = false;
    const tick = () => {
      if (running || document.visibilityState !== 'visible') return;
      running = true;
      void latest.current().finally(() => {
        running = false;
      });
    };
    let timer = window.setInterval(tick, intervalMs);
    const onVisibility = () => {
      window.clearInterval(timer);
      if (document.visibilityState !== 'visible') return;
      tick();
      timer = window.setInterval(tick, intervalMs);
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [intervalMs]);
}
