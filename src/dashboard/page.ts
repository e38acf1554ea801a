/**
 * The dashboard's script, run in the browser (bundled with the client SDK by
 * bundle.ts): connects with the SDK, shows online/offline and the reconnect
 * state, and one live panel per exposed table. When the server has auth on, it
 * asks for a token and keeps it in sessionStorage.
 */
import { createClient, type ConnectionState, type RowcastClient } from '../client/index.js';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../protocol.js';
import { TableView } from './table-view.js';

type AnyTables = Record<string, Record<string, unknown>>;

const TOKEN_KEY = 'rowcast.dashboard.token';
/** How often the table list is read again, for tables exposed after the page loaded. */
const TABLE_LIST_REFRESH_MS = 3000;
/** Shown first, and on their own when the table list cannot be read. */
const DEMO_TABLES = ['orders', 'posts', 'notifications'];

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

function authorization(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A table as the server names it (`name` in public, else `schema.name`), with its columns in table order. */
interface TableListing {
  key: string;
  columns: string[];
}

const DEMO_LISTING: TableListing[] = DEMO_TABLES.map((key) => ({ key, columns: [] }));

/** The exposed tables, demo tables first; null when the server refuses the token. */
async function exposedTables(token: string | null): Promise<TableListing[] | null> {
  try {
    const response = await fetch('/tables', { headers: authorization(token) });
    if (response.status === 401) return null;
    if (!response.ok) return DEMO_LISTING;
    const body = (await response.json()) as { tables?: Array<{ schema: string; name: string; columns?: Array<{ name: string }> }> };
    const listings = (body.tables ?? []).map((t) => ({
      key: t.schema === 'public' ? t.name : `${t.schema}.${t.name}`,
      columns: (t.columns ?? []).map((c) => c.name),
    }));
    const rank = (key: string) => (DEMO_TABLES.includes(key) ? DEMO_TABLES.indexOf(key) : DEMO_TABLES.length);
    return listings.sort((a, b) => rank(a.key) - rank(b.key) || a.key.localeCompare(b.key));
  } catch {
    // Unreachable now: show the demo tables; the client reconnects when the server is back.
    return DEMO_LISTING;
  }
}

function describe(state: ConnectionState): string {
  switch (state.kind) {
    case 'connecting':
      return 'connecting…';
    case 'open':
      return 'connected';
    case 'reconnecting':
      return `reconnecting: attempt ${state.attempt}, next try in ${(state.retryInMs / 1000).toFixed(1)} s (${state.reason})`;
    case 'closed':
      return state.error ? `stopped: ${state.error.message}` : 'closed';
  }
}

function main(): void {
  const indicator = byId('connection');
  const detail = byId('connection-detail');
  const login = byId<HTMLFormElement>('login');
  const tokenInput = byId<HTMLInputElement>('token');
  const loginError = byId('login-error');
  const panels = byId('tables');

  const renderState = (state: ConnectionState) => {
    const online = state.kind === 'open';
    indicator.textContent = online ? 'online' : 'offline';
    indicator.className = `indicator ${online ? 'online' : 'offline'}`;
    detail.textContent = describe(state);
  };

  const askForToken = (message: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    login.hidden = false;
    loginError.textContent = message;
    detail.textContent = 'a token is needed';
    tokenInput.focus();
  };

  /** The connections of the current token, each with the panels it serves. */
  type Connection = { client: RowcastClient<AnyTables>; views: TableView[] };
  let stopCurrent = () => {};

  const connect = (token: string | null, tables: TableListing[]) => {
    login.hidden = true;
    panels.replaceChildren();
    const connections: Connection[] = [];
    const keys = new Set<string>();
    // Online when every connection is; else the state of the first that is not.
    const render = () => renderState((connections.find((c) => c.client.state.kind !== 'open') ?? connections[0])!.client.state);
    const withRoom = (): Connection => {
      // One panel, one subscription: more tables than a connection may subscribe take more connections.
      const free = connections.find((c) => c.views.length < MAX_SUBSCRIPTIONS_PER_CONNECTION);
      if (free) return free;
      const connection: Connection = { client: createClient<AnyTables>({ url: window.location.origin, ...(token ? { token } : {}) }), views: [] };
      connections.push(connection);
      connection.client.on('state', (state) => {
        if (state.kind !== 'open') for (const view of connection.views) view.markLive(false);
        render();
      });
      connection.client.on('error', (error) => {
        if (error.table) connection.views.find((v) => v.table === error.table)?.showProblem(`${error.code}: ${error.message}`);
        if (connection.client.state.kind === 'closed' && error.code === 'unauthorized') askForToken(error.message);
      });
      return connection;
    };
    const show = ({ key, columns }: TableListing) => {
      if (keys.has(key)) return;
      keys.add(key);
      const connection = withRoom();
      const view = new TableView(key, columns);
      connection.views.push(view);
      panels.append(view.root);
      connection.client.subscribe(key, { onSubscribed: () => view.markLive(true) }, (change) => view.add(change));
    };
    for (const table of tables) show(table);
    if (connections.length === 0) withRoom();
    render();
    const refresh = setInterval(() => {
      void exposedTables(token).then((latest) => latest?.forEach(show));
    }, TABLE_LIST_REFRESH_MS);
    stopCurrent = () => {
      clearInterval(refresh);
      for (const { client } of connections) client.close();
    };
  };

  const start = async () => {
    stopCurrent();
    const token = sessionStorage.getItem(TOKEN_KEY);
    const tables = await exposedTables(token);
    if (tables === null) askForToken(token ? 'The server refused this token.' : '');
    else connect(token, tables);
  };

  login.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
    tokenInput.value = '';
    void start();
  });
  void start();
}

main();
