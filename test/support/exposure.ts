/** Checks of what a running server serves, shared by the expose and DDL tests. */
import type { TableInfo } from '../../src/protocol.js';
import type { TestDatabase } from './database.js';
import { waitFor } from './wait.js';
import type { TestWsClient } from './ws-client.js';

/** CONTRACT §2: a running server follows expose, unexpose and DDL within this. */
export const WITHIN_MS = 2000;

export async function tables(url: string): Promise<TableInfo[]> {
  const body = (await (await fetch(`${url}/tables`)).json()) as { tables: TableInfo[] };
  return body.tables;
}

/** The /tables entry of a table ("public" unless given), or undefined. */
export async function tableInfo(url: string, name: string, schema = 'public'): Promise<TableInfo | undefined> {
  return (await tables(url)).find((t) => t.schema === schema && t.name === name);
}

/** Sends a subscribe and returns the reply to it: `subscribed` or an error frame. */
export async function subscribeReply(ws: TestWsClient, id: string, table: string) {
  ws.send({ type: 'subscribe', id, table });
  return ws.waitFor((m) => (m.type === 'subscribed' && m.id === id) || (m.type === 'error' && m.ref === id));
}

/** Subscribes again and again until the server accepts: a newly exposed table. */
export async function subscribeWhenServed(ws: TestWsClient, table: string): Promise<string> {
  let attempt = 0;
  return waitFor(
    async () => {
      const id = `${table}-${(attempt += 1)}`;
      return (await subscribeReply(ws, id, table)).type === 'subscribed' ? id : false;
    },
    { timeoutMs: WITHIN_MS, intervalMs: 50, what: `${table} to be served` },
  );
}

export async function captureTriggers(database: TestDatabase, table: string): Promise<number> {
  const { rows } = await database.query(
    "select count(*)::int as n from pg_trigger where tgrelid = $1::regclass and tgname like 'rowcast_capture_%'",
    [table],
  );
  return rows[0].n;
}
