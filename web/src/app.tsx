import { useEffect, useRef, useState } from 'preact/hooks';
import { type Flash, navigate } from './navigation';
import { ApiError, call, client, loadSession, saveSession, type Session, whenUnauthorized } from './api';
import { Catalog } from './catalog';
import { DeliveryPage } from './delivery';
import { EndpointDetail } from './endpoint-detail';
import { EndpointForm } from './endpoint-form';
import { EndpointList } from './endpoint-list';
import { Alert, describeError } from './ui';

/** A sign-in with an API key opens a settings session of this length (the key is not kept). */
const KEY_SESSION_SECONDS = 8 * 3600;

export type Route =
  | { page: 'list' }
  | { page: 'new' }
  | { page: 'detail'; id: string; logStatus?: string }
  | { page: 'edit'; id: string }
  | { page: 'delivery'; id: string }
  | { page: 'catalog' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'catalog') return { page: 'catalog' };
  if (parts[0] === 'deliveries' && parts[1]) return { page: 'delivery', id: parts[1] };
  if (parts[0] === 'endpoints' && parts[1] === 'new') return { page: 'new' };
  if (parts[0] === 'endpoints' && parts[1] && parts[2] === 'edit') return { page: 'edit', id: parts[1] };
  if (parts[0] === 'endpoints' && parts[1] && parts[2] === 'failed')
    return { page: 'detail', id: parts[1], logStatus: 'failed' };
  if (parts[0] === 'endpoints' && parts[1]) return { page: 'detail', id: parts[1] };
  return { page: 'list' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** The one-time `?portal=` code, removed from the address bar at once so it is not bookmarked or shared. */
function takePortalCode(): string | null {
  const url = new URL(location.href);
  const code = url.searchParams.get('portal');
  if (!code) return null;
  url.searchParams.delete('portal');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  return code;
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [portalCode] = useState(takePortalCode);
  const [opening, setOpening] = useState(Boolean(portalCode));
  const [notice, setNotice] = useState<string | null>(null);
  const [flash, setFlash] = useState<Flash | null>(null);
  const route = useRoute();
  const firstRoute = useRef(true);
  useEffect(() => {
    // A new view: move focus to it, so keyboard and screen-reader users start at its top.
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    document.getElementById('main')?.focus();
  }, [route.page, 'id' in route ? route.id : '']);

  const signIn = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };

  useEffect(() => {
    whenUnauthorized((message) => {
      signIn(null);
      setNotice(`Your session has ended (${message}). Sign in again.`);
    });
  }, []);

  useEffect(() => {
    if (!portalCode) return;
    call(client.POST('/v1/portal-sessions/redeem', { body: { code: portalCode } }), undefined)
      .then((answer) => {
        signIn({ token: answer.token, readOnly: answer.readOnly, kind: 'portal', expiresAt: answer.expiresAt });
        setNotice(null);
      })
      .catch((error: unknown) => {
        // The TMS may reload its frame with the link already used: a session this tab holds stays.
        if (loadSession()) return;
        signIn(null);
        setNotice(
          error instanceof ApiError && error.status === 401
            ? 'This settings link has expired or was already used. Open the Integrations settings from the TMS again.'
            : `This settings link could not be opened: ${describeError(error)}`,
        );
      })
      .finally(() => setOpening(false));
  }, [portalCode]);

  if (opening) {
    return (
      <main id="main" class="container narrow">
        <p role="status">Opening the Integrations settings…</p>
      </main>
    );
  }
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice(null);
          signIn(s);
        }}
      />
    );

  const signOut = async () => {
    await call(client.DELETE('/v1/portal-sessions/current')).catch(() => undefined);
    signIn(null);
    setNotice('Signed out.');
    navigate('#/endpoints');
  };

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <div class="container topbar-inner">
          <span class="brand">Waybill · Integrations</span>
          <nav aria-label="Sections">
            <a href="#/endpoints" aria-current={route.page === 'catalog' ? undefined : 'page'}>
              Endpoints
            </a>
            <a href="#/catalog" aria-current={route.page === 'catalog' ? 'page' : undefined}>
              Event catalog
            </a>
          </nav>
          {session.readOnly ? (
            <span class="badge badge-readonly" title="This session can look at everything but change nothing">
              Read-only
            </span>
          ) : null}
          <button type="button" class="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="container" tabIndex={-1}>
        <Page route={route} session={session} flash={flash} setFlash={setFlash} />
      </main>
    </>
  );
}

function Page({
  route,
  session,
  flash,
  setFlash,
}: {
  route: Route;
  session: Session;
  flash: Flash | null;
  setFlash: (f: Flash | null) => void;
}) {
  const readOnly = session.readOnly;
  switch (route.page) {
    case 'list':
      return <EndpointList readOnly={readOnly} />;
    case 'new':
      return readOnly ? (
        <Alert>This session is read-only: endpoints cannot be added.</Alert>
      ) : (
        <EndpointForm onCreated={setFlash} />
      );
    case 'edit':
      return readOnly ? (
        <Alert>This session is read-only: endpoints cannot be changed.</Alert>
      ) : (
        <EndpointForm id={route.id} key={route.id} />
      );
    case 'detail':
      return (
        <EndpointDetail
          key={`${route.id}/${route.logStatus ?? ''}`}
          id={route.id}
          logStatus={route.logStatus}
          readOnly={readOnly}
          secretOnce={flash?.webhookId === route.id ? flash.secret : null}
          forgetSecret={() => setFlash(null)}
        />
      );
    case 'delivery':
      return <DeliveryPage key={route.id} id={route.id} readOnly={readOnly} />;
    case 'catalog':
      return <Catalog />;
  }
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const token = key.trim();
    if (!token) {
      setError('Enter the tenant API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // The key is exchanged for a session token, like a portal link; only the session is kept.
      const link = await call(
        client.POST('/v1/portal-sessions', {
          body: { readOnly: false, ttlSeconds: KEY_SESSION_SECONDS },
          headers: { authorization: `Bearer ${token}` },
        }),
        token,
      );
      const code = new URL(link.url).searchParams.get('portal') ?? '';
      const session = await call(client.POST('/v1/portal-sessions/redeem', { body: { code } }), undefined);
      setKey('');
      onSignedIn({ token: session.token, readOnly: session.readOnly, kind: 'key', expiresAt: session.expiresAt });
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'That API key is not valid (or it was revoked). Check it and try again.'
          : failure instanceof ApiError && failure.status === 403
            ? `That key cannot open the settings: ${failure.message}`
            : describeError(failure),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="container narrow">
      <h1>Sign in to Integrations</h1>
      <p class="muted">
        Use a tenant API key. It is exchanged for a session of 8 hours in this browser tab; the key itself is not kept.
      </p>
      {notice ? <Alert kind={/expired|could not|ended/.test(notice) ? 'error' : 'info'}>{notice}</Alert> : null}
      <form onSubmit={submit} class="stack" noValidate>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            ref={input}
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'sign-in-error' : undefined}
          />
        </div>
        {error ? (
          <div id="sign-in-error" role="alert" class="alert alert-error">
            {error}
          </div>
        ) : null}
        <div>
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}
